//! `POST /applications/{id}/cancel` over REST.

use reqwest::{Method, StatusCode, header::CONTENT_TYPE};
use serde_json::json;
use zayavki_identity::Role;
use zayavki_proto::applications::v1 as pb;

use crate::{
    helpers::{TestApp, spawn_app},
    rest_helpers::{Rest, assert_application_shape, send},
};

async fn complete(app: &TestApp, id: &str) {
    let mut lifecycle = app.lifecycle();
    for target in ["processing", "completed"] {
        let request = pb::TransitionRequest {
            id: id.to_owned(),
            ..Default::default()
        };
        let moved = if target == "processing" {
            lifecycle.start_processing(request).await
        } else {
            lifecycle.complete_application(request).await
        };
        moved.expect("lifecycle move");
    }
}

#[tokio::test]
async fn cancel_without_a_body_needs_no_content_type() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let id = alice.create_id("Бумага").await;

    let reply = send(alice.request(Method::POST, &format!("/applications/{id}/cancel"))).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_application_shape(&reply.body);
    assert_eq!(reply.body["status"], "CANCELLED");
    assert_eq!(reply.body["version"], 2);
    assert!(reply.body["cancelReason"].is_null());
    assert_eq!(reply.body["cancelledAt"], reply.body["updatedAt"]);
}

#[tokio::test]
async fn cancel_with_a_reason_then_again_changes_nothing() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let id = alice.create_id("Бумага").await;
    let path = format!("/applications/{id}/cancel");

    let first = alice
        .post_json(&path, &json!({ "reason": "Уже купили" }))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["cancelReason"], "Уже купили");

    let again = alice
        .post_json(&path, &json!({ "reason": "другая причина" }))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);

    let empty_object = alice.post_json(&path, &json!({})).await;
    assert_eq!(empty_object.status, StatusCode::OK);
    let empty_json_body = send(
        alice
            .request(Method::POST, &path)
            .header(CONTENT_TYPE, "application/json"),
    )
    .await;
    assert_eq!(empty_json_body.status, StatusCode::OK);
}

#[tokio::test]
async fn a_completed_application_cannot_be_cancelled() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let id = alice.create_id("Бумага").await;
    complete(&app, &id).await;

    let reply = alice
        .post_json(&format!("/applications/{id}/cancel"), &json!({}))
        .await;

    reply.assert_problem(409, "failed-precondition");
}

#[tokio::test]
async fn unknown_foreign_and_malformed_ids() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let bobs = Rest::applicant(&app, "bob").create_id("Чужая").await;

    let unknown = uuid::Uuid::new_v4();
    alice
        .post_json(&format!("/applications/{unknown}/cancel"), &json!({}))
        .await
        .assert_problem(404, "not-found");
    let foreign = alice
        .post_json(&format!("/applications/{bobs}/cancel"), &json!({}))
        .await;
    foreign.assert_problem(404, "not-found");
    alice
        .post_json("/applications/not-a-uuid/cancel", &json!({}))
        .await
        .assert_invalid(&["id"]);

    // An operator may cancel anyone's application; the internal service role may not.
    Rest::as_user(&app, "robot", &[Role::Service])
        .post_json(&format!("/applications/{bobs}/cancel"), &json!({}))
        .await
        .assert_problem(403, "permission-denied");
    let cancelled = Rest::operator(&app, "olga")
        .post_json(&format!("/applications/{bobs}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.body["applicant"], "bob");
}

#[tokio::test]
async fn a_cancel_body_must_be_a_json_cancel_request() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let id = alice.create_id("Бумага").await;
    let path = format!("/applications/{id}/cancel");

    send(
        alice
            .request(Method::POST, &path)
            .header(CONTENT_TYPE, "text/plain")
            .body("because"),
    )
    .await
    .assert_problem(415, "unsupported-media-type");
    alice
        .post_json(&path, &json!({ "why": "x" }))
        .await
        .assert_invalid(&["why"]);
    alice
        .post_json(&path, &json!({ "reason": 5 }))
        .await
        .assert_invalid(&["reason"]);
    alice
        .post_json(&path, &json!({ "reason": "x".repeat(1001) }))
        .await
        .assert_invalid(&["reason"]);
    send(
        alice
            .request(Method::POST, &path)
            .header(CONTENT_TYPE, "application/json")
            .body("{"),
    )
    .await
    .assert_invalid(&["body"]);

    let still_new = alice.get(&format!("/applications/{id}")).await;
    assert_eq!(still_new.body["status"], "NEW");
}
