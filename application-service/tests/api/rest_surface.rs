//! The REST surface as a whole: the routes match the OpenAPI document, authentication and roles,
//! answers axum would otherwise give in plain text, CORS, the open endpoints, and REST and gRPC
//! sharing one set of data.

use std::collections::BTreeSet;

use application_service::http::{OPENAPI_DOCUMENT, operations};
use reqwest::{Method, StatusCode};
use serde_json::json;
use zayavki_identity::Role;
use zayavki_proto::applications::v1 as pb;

use crate::{
    helpers::{create, spawn_app},
    rest_helpers::{Rest, id_of, new_application, send},
};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// (method, path) of every operation in the OpenAPI document.
fn documented_operations() -> BTreeSet<(String, String)> {
    let document: serde_yaml::Value =
        serde_yaml::from_str(OPENAPI_DOCUMENT).expect("the document is YAML");
    let paths = document["paths"].as_mapping().expect("paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        for (key, _) in item.as_mapping().expect("path item") {
            let key = key.as_str().expect("keys are strings");
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&key)
            {
                operations.insert((key.to_uppercase(), path.to_owned()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn the_router_serves_exactly_the_operations_of_the_document() {
    let documented = documented_operations();
    let served: BTreeSet<(String, String)> = operations()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    assert_eq!(served, documented);

    // The running server agrees: documented operations are routed, other methods are 405 with
    // an Allow header naming the documented ones.
    let app = spawn_app().await;
    let client = Rest::as_user(&app, "checker", &[Role::Applicant, Role::Operator]);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
    for template in paths {
        let path = template.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let allowed: BTreeSet<&str> = documented
            .iter()
            .filter(|(_, documented_path)| documented_path == template)
            .map(|(method, _)| method.as_str())
            .collect();
        for method in METHODS {
            let reply = send(client.request(
                Method::from_bytes(method.as_bytes()).expect("method"),
                &path,
            ))
            .await;
            if allowed.contains(method) {
                assert_ne!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
                assert!(
                    !reply.body["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("There is nothing"),
                    "{method} {path} is routed: {reply:?}"
                );
            } else {
                reply.assert_problem(405, "method-not-allowed");
                let allow: BTreeSet<&str> = reply
                    .header("allow")
                    .expect("Allow header")
                    .split(',')
                    .map(str::trim)
                    .filter(|method| *method != "HEAD")
                    .collect();
                assert_eq!(allow, allowed, "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404_problems_with_or_without_a_token() {
    let app = spawn_app().await;
    for client in [Rest::anonymous(&app), Rest::applicant(&app, "alice")] {
        for path in [
            "/",
            "/nope",
            "/applications/batch/extra",
            "/api/v1/applications",
        ] {
            let reply = client.get(path).await;
            reply.assert_problem(404, "not-found");
        }
    }
}

#[tokio::test]
async fn every_application_operation_requires_a_bearer_token() {
    let app = spawn_app().await;
    let anonymous = Rest::anonymous(&app);
    let id = Rest::applicant(&app, "alice").create_id("x").await;

    for (method, path) in [
        (Method::POST, "/applications".to_owned()),
        (Method::GET, "/applications".to_owned()),
        (Method::POST, "/applications/batch".to_owned()),
        (Method::GET, "/applications/search?q=x".to_owned()),
        (Method::GET, "/applications/stats".to_owned()),
        (Method::GET, format!("/applications/{id}")),
        (Method::POST, format!("/applications/{id}/cancel")),
    ] {
        let reply = send(anonymous.request(method.clone(), &path)).await;
        reply.assert_problem(401, "unauthenticated");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer realm="zayavki""#)
        );
    }

    let forged = Rest::new(&app, Some("not.a.jwt".to_owned()))
        .get("/applications")
        .await;
    forged.assert_problem(401, "unauthenticated");
    assert!(
        forged
            .header("www-authenticate")
            .is_some_and(|challenge| challenge.contains(r#"error="invalid_token""#)),
        "{forged:?}"
    );
}

#[tokio::test]
async fn a_token_without_a_known_role_is_403() {
    let app = spawn_app().await;
    let nobody = Rest::as_user(&app, "nobody", &[]);
    let id = Rest::applicant(&app, "alice").create_id("x").await;

    nobody
        .get("/applications")
        .await
        .assert_problem(403, "permission-denied");
    nobody
        .get(&format!("/applications/{id}"))
        .await
        .assert_problem(403, "permission-denied");
    nobody
        .get("/applications/stats")
        .await
        .assert_problem(403, "permission-denied");
    nobody
        .post_json("/applications", &new_application("x"))
        .await
        .assert_problem(403, "permission-denied");
}

#[tokio::test]
async fn an_accept_header_without_json_is_406() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let refused = send(
        alice
            .request(Method::GET, "/applications")
            .header("accept", "text/html"),
    )
    .await;
    refused.assert_problem(406, "not-acceptable");
    for accept in [
        "application/json",
        "*/*",
        "application/problem+json",
        "text/html, application/*;q=0.1",
    ] {
        let reply = send(
            alice
                .request(Method::GET, "/applications")
                .header("accept", accept),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{accept}");
    }
}

#[tokio::test]
async fn the_open_endpoints_need_no_token() {
    let app = spawn_app().await;
    let anonymous = Rest::anonymous(&app);

    let live = anonymous.get("/healthz").await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.body, json!({ "status": "ok" }));
    let ready = anonymous.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({ "status": "ready" }));

    let document = anonymous.get("/openapi.yml").await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.content_type(), "application/yaml");
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/application-openapi.yml"
    ))
    .expect("the document is readable");
    assert_eq!(document.text, on_disk);
    let parsed: serde_yaml::Value = serde_yaml::from_str(&document.text).expect("YAML");
    assert_eq!(parsed["openapi"].as_str(), Some("3.1.0"));
}

#[tokio::test]
async fn browsers_on_allowed_origins_may_call_and_read_the_documented_headers() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let origin = "http://localhost:5173";

    let preflight = send(
        alice
            .request(Method::OPTIONS, "/applications")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            ),
    )
    .await;
    assert!(preflight.status.is_success(), "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(origin)
    );
    let allowed_headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_lowercase();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed_headers.contains(header), "{allowed_headers}");
    }

    let created = send(
        alice
            .request(Method::POST, "/applications")
            .header("origin", origin)
            .json(&new_application("x")),
    )
    .await;
    assert_eq!(created.header("access-control-allow-origin"), Some(origin));
    let exposed = created
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_lowercase();
    for header in ["location", "retry-after", "idempotent-replayed"] {
        assert!(exposed.contains(header), "{exposed}");
    }

    let stranger = send(
        alice
            .request(Method::GET, "/applications")
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(stranger.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn rest_and_grpc_see_the_same_applications() {
    let app = spawn_app().await;
    let rest = Rest::applicant(&app, "alice");
    let mut grpc = app.applicant("alice");

    // Filed over REST, read over gRPC.
    let over_rest = rest.create("Через REST").await;
    let read_by_grpc = grpc
        .get_application(pb::GetApplicationRequest {
            id: id_of(&over_rest),
        })
        .await
        .expect("found over gRPC")
        .into_inner();
    assert_eq!(read_by_grpc.title, over_rest["title"]);
    assert_eq!(read_by_grpc.applicant, over_rest["applicant"]);
    assert_eq!(read_by_grpc.total_amount, over_rest["totalAmount"]);
    assert_eq!(read_by_grpc.version, over_rest["version"]);
    assert_eq!(
        read_by_grpc.description.as_deref(),
        over_rest["description"].as_str()
    );
    let grpc_prices: Vec<&str> = read_by_grpc
        .items
        .iter()
        .map(|item| item.unit_price.as_str())
        .collect();
    assert_eq!(grpc_prices, ["35.50", "40.00"]);
    let applied_at = read_by_grpc.applied_at.expect("applied_at");
    let rest_applied_at =
        chrono::DateTime::parse_from_rfc3339(over_rest["appliedAt"].as_str().expect("appliedAt"))
            .expect("RFC 3339");
    assert_eq!(applied_at.seconds, rest_applied_at.timestamp());
    assert_eq!(
        u32::try_from(applied_at.nanos).expect("non-negative"),
        rest_applied_at.timestamp_subsec_nanos()
    );

    // Filed over gRPC, read and cancelled over REST, then read over gRPC again.
    let over_grpc = create(&mut grpc, "Через gRPC").await;
    let read_by_rest = rest.get(&format!("/applications/{}", over_grpc.id)).await;
    assert_eq!(read_by_rest.status, StatusCode::OK);
    assert_eq!(read_by_rest.body["title"], "Через gRPC");
    assert_eq!(read_by_rest.body["totalAmount"], over_grpc.total_amount);
    let listed = rest.get("/applications").await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));

    let cancelled = rest
        .post_json(
            &format!("/applications/{}/cancel", over_grpc.id),
            &json!({ "reason": "передумали" }),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let after = grpc
        .get_application(pb::GetApplicationRequest {
            id: over_grpc.id.clone(),
        })
        .await
        .expect("found")
        .into_inner();
    assert_eq!(after.status, pb::ApplicationStatus::Cancelled as i32);
    assert_eq!(after.cancel_reason.as_deref(), Some("передумали"));
    assert_eq!(after.version, 2);
}
