//! Who may call what over REST: every operation with no token, each kind of bad token and each
//! role; throttling answers 429 with Retry-After and recovers.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use zayavki_identity::{ManualClock, Role, ThrottleConfig};

use crate::{
    auth_grpc::bad_authorizations,
    helpers::{TestApp, create, spawn_app, spawn_app_with},
};

/// Every REST operation on application `id`: (name, method, path, body).
fn operations(id: &str) -> Vec<(&'static str, Method, String, Option<serde_json::Value>)> {
    vec![
        (
            "create",
            Method::POST,
            "/applications".to_owned(),
            Some(serde_json::json!({"title": "x"})),
        ),
        (
            "batch",
            Method::POST,
            "/applications/batch".to_owned(),
            Some(serde_json::json!({"applications": [{"title": "x"}]})),
        ),
        ("get", Method::GET, format!("/applications/{id}"), None),
        ("list", Method::GET, "/applications".to_owned(), None),
        (
            "search",
            Method::GET,
            "/applications/search?q=x".to_owned(),
            None,
        ),
        (
            "cancel",
            Method::POST,
            format!("/applications/{id}/cancel"),
            None,
        ),
    ]
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    authorization: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("http://{}{path}", app.http_address));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn every_operation_refuses_missing_and_bad_tokens_with_problem_json() {
    let app = spawn_app().await;
    let id = create(&mut app.applicant("alice"), "чужая").await.id;
    let mut kinds: Vec<(&str, Option<String>)> = vec![("missing", None)];
    kinds.extend(
        bad_authorizations()
            .into_iter()
            .map(|(kind, value)| (kind, Some(value))),
    );

    for (kind, authorization) in kinds {
        for (operation, method, path, body) in operations(&id) {
            let response = call(&app, method, &path, body.as_ref(), authorization.as_deref()).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{operation} with a {kind} token"
            );
            let challenge = response
                .headers()
                .get("www-authenticate")
                .expect("challenge")
                .to_str()
                .expect("ascii")
                .to_owned();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: serde_json::Value = response.json().await.expect("problem body");
            assert_eq!(problem["status"], 401);
            assert!(!problem["detail"].as_str().unwrap_or_default().is_empty());
        }
    }
}

#[tokio::test]
async fn each_role_reaches_exactly_what_it_may() {
    let app = spawn_app().await;
    use StatusCode as S;
    let expectations: [(&str, &[Role], [StatusCode; 6]); 5] = [
        (
            "alice",
            &[Role::Applicant],
            [S::CREATED, S::CREATED, S::OK, S::OK, S::OK, S::OK],
        ),
        (
            "bob",
            &[Role::Applicant],
            [
                S::CREATED,
                S::CREATED,
                S::NOT_FOUND,
                S::OK,
                S::OK,
                S::NOT_FOUND,
            ],
        ),
        (
            "olga",
            &[Role::Operator],
            [S::FORBIDDEN, S::FORBIDDEN, S::OK, S::OK, S::OK, S::OK],
        ),
        (
            "business-process",
            &[Role::Service],
            [
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::OK,
                S::OK,
                S::OK,
                S::FORBIDDEN,
            ],
        ),
        ("nobody", &[], [S::FORBIDDEN; 6]),
    ];
    for (subject, roles, expected) in expectations {
        let id = create(&mut app.applicant("alice"), "заявка Алисы").await.id;
        let authorization = format!("Bearer {}", app.token(subject, roles));
        for ((operation, method, path, body), expected) in operations(&id).into_iter().zip(expected)
        {
            let response = call(&app, method, &path, body.as_ref(), Some(&authorization)).await;
            assert_eq!(
                response.status(),
                expected,
                "{subject} {roles:?} calling {operation}"
            );
        }
    }
}

#[tokio::test]
async fn another_applicants_application_looks_missing() {
    let app = spawn_app().await;
    let id = create(&mut app.applicant("alice"), "моя").await.id;
    let bob = format!("Bearer {}", app.token("bob", &[Role::Applicant]));
    let hidden = call(
        &app,
        Method::GET,
        &format!("/applications/{id}"),
        None,
        Some(&bob),
    )
    .await;
    let missing = call(
        &app,
        Method::GET,
        &format!("/applications/{}", uuid::Uuid::new_v4()),
        None,
        Some(&bob),
    )
    .await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let hidden: serde_json::Value = hidden.json().await.expect("problem");
    let missing: serde_json::Value = missing.json().await.expect("problem");
    assert_eq!(hidden["type"], missing["type"]);
    assert_eq!(hidden["title"], missing["title"]);
}

#[tokio::test]
async fn throttled_calls_get_429_with_retry_after_and_recover() {
    // Time moves only when the test says so: the fourth call is refused however slow the
    // machine, and the refill is certain after the advance.
    let clock = ManualClock::new();
    let throttle_clock = clock.clone();
    let app = spawn_app_with(|settings| {
        settings.throttle = ThrottleConfig {
            per_second: 2,
            burst: 3,
            clock: throttle_clock.into(),
            ..ThrottleConfig::default()
        };
    })
    .await;
    let alice = format!("Bearer {}", app.token("alice", &[Role::Applicant]));
    for _ in 0..3 {
        let response = call(&app, Method::GET, "/applications", None, Some(&alice)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let throttled = call(&app, Method::GET, "/applications", None, Some(&alice)).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    assert_eq!(
        throttled.headers()["content-type"],
        "application/problem+json"
    );

    let bob = format!("Bearer {}", app.token("bob", &[Role::Applicant]));
    assert_eq!(
        call(&app, Method::GET, "/applications", None, Some(&bob))
            .await
            .status(),
        StatusCode::OK
    );

    clock.advance(Duration::from_millis(500));
    assert_eq!(
        call(&app, Method::GET, "/applications", None, Some(&alice))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_rest_batch_counts_every_item() {
    let app = spawn_app_with(|settings| {
        settings.throttle = ThrottleConfig {
            per_second: 1,
            burst: 5,
            clock: ManualClock::new().into(),
            ..ThrottleConfig::default()
        };
    })
    .await;
    let alice = format!("Bearer {}", app.token("alice", &[Role::Applicant]));
    let batch = |size: usize| serde_json::json!({ "applications": (0..size).map(|index| serde_json::json!({"title": format!("{index}")})).collect::<Vec<_>>() });
    let too_big = call(
        &app,
        Method::POST,
        "/applications/batch",
        Some(&batch(6)),
        Some(&alice),
    )
    .await;
    assert_eq!(too_big.status(), StatusCode::TOO_MANY_REQUESTS);
    let fits = call(
        &app,
        Method::POST,
        "/applications/batch",
        Some(&batch(4)),
        Some(&alice),
    )
    .await;
    assert_eq!(fits.status(), StatusCode::CREATED);
    let over = call(
        &app,
        Method::POST,
        "/applications/batch",
        Some(&batch(2)),
        Some(&alice),
    )
    .await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
}
