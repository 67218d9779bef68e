//! What sits around the API: health, gRPC-Web for browsers with CORS, authentication,
//! ownership, graceful shutdown.

use std::time::Duration;

use prost::Message;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, create, spawn_app};

#[tokio::test]
async fn health_reports_serving_once_the_database_answers() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel());
    let mut last = None;
    for _ in 0..50 {
        let status = health
            .check(HealthCheckRequest {
                service: "applications.v1.ApplicationService".to_owned(),
            })
            .await
            .expect("health answers without a token")
            .into_inner()
            .status;
        last = Some(status);
        if status == ServingStatus::Serving as i32 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never SERVING, last status {last:?}");
}

#[tokio::test]
async fn calls_without_a_token_are_unauthenticated() {
    let app = spawn_app().await;
    let status = app
        .anonymous()
        .get_application(pb::GetApplicationRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("no token");
    assert_code(&status, Code::Unauthenticated);
}

#[tokio::test]
async fn applicants_see_only_their_own_applications() {
    let app = spawn_app().await;
    let mine = create(&mut app.applicant("alice"), "моя").await;
    let mut bob = app.applicant("bob");
    let status = bob
        .get_application(pb::GetApplicationRequest {
            id: mine.id.clone(),
        })
        .await
        .expect_err("hidden");
    assert_code(&status, Code::NotFound);
    let listed = bob
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.applications.is_empty());
    let seen_by_operator = app
        .operator("olga")
        .get_application(pb::GetApplicationRequest {
            id: mine.id.clone(),
        })
        .await
        .expect("operators see all")
        .into_inner();
    assert_eq!(seen_by_operator.id, mine.id);
}

fn grpc_web_frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut frame = vec![0];
    frame.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&payload);
    frame
}

#[tokio::test]
async fn browsers_reach_the_api_through_grpc_web_with_cors() {
    let app = spawn_app().await;
    let created = create(&mut app.applicant("alice"), "из браузера").await;
    let client = reqwest::Client::new();
    let url = format!(
        "http://{}/applications.v1.ApplicationService/GetApplication",
        app.grpc_address
    );

    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,authorization",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );

    let response = client
        .post(&url)
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header(
            "authorization",
            format!(
                "Bearer {}",
                app.token("alice", &[zayavki_identity::Role::Applicant])
            ),
        )
        .body(grpc_web_frame(&pb::GetApplicationRequest {
            id: created.id.clone(),
        }))
        .send()
        .await
        .expect("grpc-web call");
    assert!(response.status().is_success());
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_owned();
    for header in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(
            exposed.contains(header),
            "{header} not exposed in {exposed}"
        );
    }
    let body = response.bytes().await.expect("body");
    assert_eq!(body[0], 0, "first frame carries the message");
    let length = u32::from_be_bytes(body[1..5].try_into().expect("length")) as usize;
    let application = pb::Application::decode(&body[5..5 + length]).expect("an Application");
    assert_eq!(application.id, created.id);
    let trailers = String::from_utf8_lossy(&body[5 + length + 5..]);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[tokio::test]
async fn shutdown_finishes_promptly() {
    let app = spawn_app().await;
    create(&mut app.applicant("alice"), "перед остановкой").await;
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("stops within the grace period");
}

#[tokio::test]
async fn production_refuses_to_start_without_a_key() {
    let database = zayavki_testkit::TestDatabase::fresh();
    let mut settings = application_service::config::Settings::for_database(database.url());
    settings.identity = zayavki_identity::IdentityConfig::default().in_production(true);
    let refused = application_service::startup::Application::build(settings).await;
    let error = refused.err().expect("no key in production is refused");
    assert!(format!("{error:#}").contains("JWT"), "{error:#}");
}
