use std::net::SocketAddr;

use axum::{
    Router, body::Body, extract::ConnectInfo, middleware::from_fn_with_state, routing::get,
};
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zayavki_identity::{
    Authenticated, HttpAuth, ManualClock, PublicPaths, Role, Throttle, ThrottleConfig,
    authenticate_http, throttle_http,
};

use crate::helpers::{
    SECRET, Signer, hs256_config, hs256_token, now, sign, valid_claims, verifier,
};

async fn me(Authenticated(identity): Authenticated) -> String {
    identity.subject
}

async fn maybe(identity: Option<Authenticated>) -> String {
    identity.map_or_else(
        || "anonymous".to_owned(),
        |Authenticated(identity)| identity.subject,
    )
}

fn routes() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
}

fn strict_app() -> Router {
    let auth = HttpAuth::new(verifier(&hs256_config())).with_public_paths(PublicPaths::exact([
        "/health",
        "/openapi.yml",
        "/maybe",
    ]));
    routes().layer(from_fn_with_state(auth, authenticate_http))
}

fn get_with(path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::empty()).expect("request")
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

async fn problem(response: Response<Body>) -> serde_json::Value {
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    serde_json::from_str(&body_text(response).await).expect("problem json")
}

#[tokio::test]
async fn a_missing_token_is_a_401_problem_with_a_bare_challenge() {
    let response = strict_app()
        .oneshot(get_with("/me", None))
        .await
        .expect("infallible");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="zayavki""#
    );
    let body = problem(response).await;
    assert_eq!(body["status"], 401);
    assert_eq!(body["type"], "urn:zayavki:problem:unauthenticated");
}

#[tokio::test]
async fn an_invalid_token_is_challenged_with_invalid_token_and_its_reason() {
    let mut claims = valid_claims("a");
    claims["exp"] = (now() - 3600).into();
    let expired = sign(Signer::Secret(SECRET), None, &claims);

    let response = strict_app()
        .oneshot(get_with("/me", Some(&format!("Bearer {expired}"))))
        .await
        .expect("infallible");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="zayavki", error="invalid_token", error_description="the token has expired""#
    );
    assert_eq!(problem(response).await["detail"], "the token has expired");
}

#[tokio::test]
async fn a_non_bearer_header_is_challenged_as_invalid_request() {
    let response = strict_app()
        .oneshot(get_with("/me", Some("Basic dXNlcjpwYXNz")))
        .await
        .expect("infallible");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert!(
        challenge.contains(r#"error="invalid_request""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_good_token_reaches_the_handler_as_authenticated() {
    let token = hs256_token("user-5", &[Role::Operator]);

    let response = strict_app()
        .oneshot(get_with("/me", Some(&format!("Bearer {token}"))))
        .await
        .expect("infallible");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "user-5");
}

#[tokio::test]
async fn public_routes_answer_without_a_token() {
    let response = strict_app()
        .oneshot(get_with("/health", None))
        .await
        .expect("infallible");

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_optional_identity_is_none_without_a_token_but_a_bad_token_is_refused() {
    let anonymous = strict_app()
        .oneshot(get_with("/maybe", None))
        .await
        .expect("ok");
    let bad = strict_app()
        .oneshot(get_with("/maybe", Some("Bearer a.b.c")))
        .await
        .expect("ok");
    let token = hs256_token("user-9", &[]);
    let known = strict_app()
        .oneshot(get_with("/maybe", Some(&format!("Bearer {token}"))))
        .await
        .expect("ok");

    assert_eq!(body_text(anonymous).await, "anonymous");
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_text(known).await, "user-9");
}

#[tokio::test]
async fn the_optional_layer_leaves_refusal_to_the_extractor() {
    let app = routes().layer(from_fn_with_state(
        HttpAuth::optional(verifier(&hs256_config())),
        authenticate_http,
    ));

    let protected = app
        .clone()
        .oneshot(get_with("/me", None))
        .await
        .expect("ok");
    let open = app.oneshot(get_with("/health", None)).await.expect("ok");

    assert_eq!(protected.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        protected.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="zayavki""#
    );
    assert_eq!(open.status(), StatusCode::OK);
}

/// Time stands still, so every refusal below is certain however slowly the requests run.
fn throttled_app(burst: u32) -> Router {
    let throttle = Throttle::new(ThrottleConfig {
        per_second: 1,
        burst,
        clock: ManualClock::new().into(),
        ..ThrottleConfig::default()
    })
    .expect("throttle");
    let auth =
        HttpAuth::new(verifier(&hs256_config())).with_public_paths(PublicPaths::exact(["/health"]));
    routes()
        .layer(from_fn_with_state(throttle, throttle_http))
        .layer(from_fn_with_state(auth, authenticate_http))
}

#[tokio::test]
async fn requests_beyond_the_burst_get_429_with_retry_after() {
    let app = throttled_app(1);
    let token = format!("Bearer {}", hs256_token("user-1", &[]));
    let other = format!("Bearer {}", hs256_token("user-2", &[]));

    let first = app
        .clone()
        .oneshot(get_with("/me", Some(&token)))
        .await
        .expect("ok");
    let second = app
        .clone()
        .oneshot(get_with("/me", Some(&token)))
        .await
        .expect("ok");
    let someone_else = app
        .oneshot(get_with("/me", Some(&other)))
        .await
        .expect("ok");

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        someone_else.status(),
        StatusCode::OK,
        "buckets are per subject"
    );
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.headers()[header::RETRY_AFTER], "1");
    let body = problem(second).await;
    assert_eq!(body["status"], 429);
    assert_eq!(body["detail"], "too many requests; retry in 1 s");
}

#[tokio::test]
async fn anonymous_requests_are_throttled_by_client_address() {
    let app = throttled_app(1);
    let from = |address: [u8; 4]| {
        let mut request = get_with("/health", None);
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((address, 40_000))));
        request
    };

    let first = app.clone().oneshot(from([192, 0, 2, 1])).await.expect("ok");
    let second = app.clone().oneshot(from([192, 0, 2, 1])).await.expect("ok");
    let elsewhere = app.oneshot(from([192, 0, 2, 2])).await.expect("ok");

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(elsewhere.status(), StatusCode::OK);
}
