//! `POST /applications/batch` over REST: all or nothing, errors by index, idempotency and the
//! per-item rate limit.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zayavki_identity::ThrottleConfig;

use crate::{
    helpers::{count_rows, spawn_app, spawn_app_with},
    rest_helpers::{Rest, assert_application_shape, new_application, send},
};

fn batch(titles: &[&str]) -> Value {
    json!({ "applications": titles.iter().map(|title| new_application(title)).collect::<Vec<_>>() })
}

#[tokio::test]
async fn a_batch_is_created_in_order() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let reply = alice
        .post_json(
            "/applications/batch",
            &batch(&["первая", "вторая", "третья"]),
        )
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.header("location"), None);
    let items = reply.body["items"].as_array().expect("items");
    let titles: Vec<&str> = items
        .iter()
        .map(|item| item["title"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(titles, ["первая", "вторая", "третья"]);
    for item in items {
        assert_application_shape(item);
        assert_eq!(item["applicant"], "alice");
    }
    assert_eq!(count_rows(&app.pool).await, 3);
}

#[tokio::test]
async fn one_bad_item_rejects_the_whole_batch_naming_it_by_index() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let mut body = batch(&["хорошая", " ", "тоже хорошая"]);
    body["applications"][2]["items"][1]["unitPrice"] = json!("1.234");

    let reply = alice.post_json("/applications/batch", &body).await;

    reply.assert_invalid(&[
        "applications[1].title",
        "applications[2].items[1].unitPrice",
    ]);
    assert_eq!(
        reply.body["detail"],
        "2 fields are invalid; no application was created."
    );
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn the_batch_as_a_whole_is_checked() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    alice
        .post_json("/applications/batch", &json!({ "applications": [] }))
        .await
        .assert_invalid(&["applications"]);
    let titles: Vec<String> = (0..1001).map(|index| format!("{index}")).collect();
    let too_many = json!({ "applications": titles.iter().map(|title| json!({ "title": title })).collect::<Vec<_>>() });
    alice
        .post_json("/applications/batch", &too_many)
        .await
        .assert_invalid(&["applications"]);
    alice
        .post_json("/applications/batch", &json!({}))
        .await
        .assert_invalid(&["applications"]);
    alice
        .post_json(
            "/applications/batch",
            &json!({ "applications": [{ "title": "x", "colour": "red" }] }),
        )
        .await
        .assert_invalid(&["applications[0].colour"]);
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn a_batch_replays_with_its_key_and_the_key_space_is_shared_with_create() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let post = |path: &'static str, body: Value| {
        send(
            alice
                .request(Method::POST, path)
                .header("Idempotency-Key", "batch-1")
                .json(&body),
        )
    };

    let first = post("/applications/batch", batch(&["a", "b"])).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let replay = post("/applications/batch", batch(&["a", "b"])).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, first.body);

    post("/applications/batch", batch(&["a", "c"]))
        .await
        .assert_problem(422, "idempotency-key-reused");
    post("/applications", new_application("a"))
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(count_rows(&app.pool).await, 2);
}

#[tokio::test]
async fn every_item_of_a_batch_counts_against_the_rate_limit() {
    let app = spawn_app_with(|settings| {
        settings.throttle = ThrottleConfig {
            per_second: 1,
            burst: 10,
            ..ThrottleConfig::default()
        };
    })
    .await;
    let alice = Rest::applicant(&app, "alice");

    let eight = alice
        .post_json(
            "/applications/batch",
            &batch(&["1", "2", "3", "4", "5", "6", "7", "8"]),
        )
        .await;
    assert_eq!(eight.status, StatusCode::CREATED, "{eight:?}");

    // 1 + 8 more units: more than the 2 left plus what refills in a few seconds.
    let nine = alice
        .post_json(
            "/applications/batch",
            &batch(&["9", "10", "11", "12", "13", "14", "15", "16", "17"]),
        )
        .await;
    nine.assert_problem(429, "too-many-requests");
    let retry_after: u64 = nine
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!(retry_after >= 1);
    assert_eq!(count_rows(&app.pool).await, 8);
}
