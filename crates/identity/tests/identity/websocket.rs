use axum::{Router, body::Body, middleware::from_fn_with_state, routing::get};
use http::{HeaderMap, Request, StatusCode, Uri, header};
use tower::ServiceExt;
use zayavki_identity::{
    AuthError, Authenticated, BEARER_SUBPROTOCOL, HttpAuth, Role, TokenVerifier, WebSocketIdentity,
    authenticate_http, authenticate_websocket,
};

use crate::helpers::{hs256_config, hs256_token, verifier};

fn handshake(uri: &str, protocols: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(protocols) = protocols {
        request = request.header(header::SEC_WEBSOCKET_PROTOCOL, protocols);
    }
    request.body(Body::empty()).expect("request")
}

fn authenticate(request: &Request<Body>) -> Result<WebSocketIdentity, AuthError> {
    authenticate_websocket(&verifier(&hs256_config()), request.headers(), request.uri())
}

#[test]
fn the_token_can_come_from_the_access_token_query_parameter() {
    let token = hs256_token("viewer-1", &[Role::Operator]);

    let found = authenticate(&handshake(
        &format!("/ws/reports?access_token={token}"),
        None,
    ))
    .expect("authenticated");

    assert_eq!(found.identity.subject, "viewer-1");
    assert_eq!(found.subprotocol, None);
}

#[test]
fn the_token_can_come_from_the_bearer_subprotocol_which_must_be_echoed() {
    let token = hs256_token("viewer-2", &[]);

    let found = authenticate(&handshake("/ws/reports", Some(&format!("bearer, {token}"))))
        .expect("authenticated");

    assert_eq!(found.identity.subject, "viewer-2");
    assert_eq!(found.subprotocol, Some(BEARER_SUBPROTOCOL));
}

#[test]
fn a_handshake_without_a_token_or_with_a_bad_one_is_refused() {
    assert_eq!(
        authenticate(&handshake("/ws/reports", None)).map(|found| found.identity),
        Err(AuthError::Missing)
    );
    assert!(matches!(
        authenticate(&handshake("/ws/reports", Some("bearer, x.y.z"))),
        Err(AuthError::Malformed { .. })
    ));
}

#[test]
fn an_authorization_header_wins_when_present() {
    let token = hs256_token("header-user", &[]);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let uri = Uri::from_static("/ws?access_token=ignored");

    let found = authenticate_websocket(&verifier(&hs256_config()), &headers, &uri);

    assert_eq!(
        found.map(|found| found.identity.subject),
        Ok("header-user".to_owned())
    );
}

#[tokio::test]
async fn the_http_layer_accepts_handshake_tokens_and_the_extractor_reads_them() {
    let verifier: TokenVerifier = verifier(&hs256_config());
    let app = Router::new()
        .route(
            "/ws/layered",
            get(|Authenticated(identity): Authenticated| async move { identity.subject }),
        )
        .route(
            "/ws/extracted",
            get(|found: WebSocketIdentity| async move {
                format!(
                    "{}:{}",
                    found.identity.subject,
                    found.subprotocol.unwrap_or("-")
                )
            }),
        )
        .layer(from_fn_with_state(
            HttpAuth::new(verifier.clone()),
            authenticate_http,
        ))
        .with_state(verifier);
    let token = hs256_token("viewer-3", &[]);

    let layered = app
        .clone()
        .oneshot(handshake(
            &format!("/ws/layered?access_token={token}"),
            None,
        ))
        .await
        .expect("ok");
    let extracted = app
        .clone()
        .oneshot(handshake(
            "/ws/extracted",
            Some(&format!("bearer, {token}")),
        ))
        .await
        .expect("ok");
    let plain_get = app
        .oneshot(
            Request::get(format!("/ws/layered?access_token={token}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("ok");

    assert_eq!(layered.status(), StatusCode::OK);
    assert_eq!(body(layered).await, "viewer-3");
    assert_eq!(body(extracted).await, "viewer-3:bearer");
    assert_eq!(
        plain_get.status(),
        StatusCode::UNAUTHORIZED,
        "query tokens are only read on handshakes"
    );
}

async fn body(response: http::Response<Body>) -> String {
    use http_body_util::BodyExt;
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}
