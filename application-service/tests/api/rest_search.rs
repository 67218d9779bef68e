//! `GET /applications/search` over REST against the real index: hits, snippets, visibility,
//! filters, pagination and query-string errors.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::spawn_app,
    rest_helpers::{Reply, Rest, assert_application_shape, id_of},
};

/// The query string part for `q`.
fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// Polls until the search finds `expected` hits; the index follows PostgreSQL asynchronously.
async fn wait_for_hits(client: &Rest, query: &str, expected: usize) -> Reply {
    let started = Instant::now();
    loop {
        let reply = client.get(&format!("/applications/search?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        if reply.body["items"].as_array().map(Vec::len) == Some(expected) {
            return reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{query} found {} hits, expected {expected}",
            reply.body["items"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn search_answers_ranked_hits_with_snippets() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let spoons = alice
        .post_json(
            "/applications",
            &json!({
                "title": "Закупка посуды для столовой",
                "items": [{ "name": "Ложки чайные", "quantity": 3, "unitPrice": "12.50" }],
            }),
        )
        .await
        .body;
    alice
        .post_json(
            "/applications",
            &json!({ "title": "Картриджи для принтера" }),
        )
        .await;

    let reply = wait_for_hits(&alice, &format!("q={}", encode("ложка")), 1).await;

    assert_eq!(reply.content_type(), "application/json");
    let hit = &reply.body["items"][0];
    let names: HashSet<&str> = hit
        .as_object()
        .expect("a hit is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, HashSet::from(["application", "score", "snippet"]));
    assert_application_shape(&hit["application"]);
    assert_eq!(hit["application"], spoons);
    assert!(hit["score"].as_f64().is_some_and(|score| score >= 0.0));
    assert!(
        hit["snippet"]
            .as_str()
            .is_some_and(|snippet| snippet.contains("<b>")),
        "{hit}"
    );
    assert!(reply.body["nextPageToken"].is_null());
}

#[tokio::test]
async fn applicants_find_only_their_own_applications() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let bob = Rest::applicant(&app, "bob");
    alice.create("Бумага офисная").await;
    bob.create("Бумага для принтера").await;
    let query = format!("q={}", encode("бумага"));

    wait_for_hits(&Rest::operator(&app, "olga"), &query, 2).await;
    let own = wait_for_hits(&alice, &query, 1).await;
    assert_eq!(own.body["items"][0]["application"]["applicant"], "alice");
}

#[tokio::test]
async fn search_filters_and_paginates_like_the_listing() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let applications: Vec<Value> = (0..30)
        .map(|index| json!({ "title": format!("Стулья партия {index}") }))
        .collect();
    let created = alice
        .post_json(
            "/applications/batch",
            &json!({ "applications": applications }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let cancelled = id_of(&created.body["items"][0]);
    alice
        .post_json(&format!("/applications/{cancelled}/cancel"), &json!({}))
        .await;
    let q = encode("стулья");

    let only_cancelled = wait_for_hits(&alice, &format!("q={q}&status=CANCELLED"), 1).await;
    assert_eq!(
        id_of(&only_cancelled.body["items"][0]["application"]),
        cancelled
    );

    let mut seen = HashSet::new();
    let mut query = format!("q={q}&status=NEW,PROCESSING&pageSize=7");
    wait_for_hits(&alice, &query, 7).await;
    loop {
        let page = alice.get(&format!("/applications/search?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        for hit in page.body["items"].as_array().expect("items") {
            assert!(seen.insert(id_of(&hit["application"])), "no hit repeats");
        }
        match page.body["nextPageToken"].as_str() {
            Some(token) => {
                query = format!("q={q}&status=NEW,PROCESSING&pageSize=7&pageToken={token}")
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 29);
}

#[tokio::test]
async fn bad_search_parameters_are_400_naming_them() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    for (query, field) in [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=a&q=b", "q"),
        ("q=ok&sort=score", "sort"),
        ("q=ok&status=DONE", "status"),
        ("q=ok&pageSize=0", "pageSize"),
        ("q=ok&appliedFrom=yesterday", "appliedFrom"),
        ("q=ok&pageToken=garbage", "pageToken"),
    ] {
        let reply = alice.get(&format!("/applications/search?{query}")).await;
        reply.assert_invalid(&[field]);
    }
    let long = "a".repeat(1001);
    alice
        .get(&format!("/applications/search?q={long}"))
        .await
        .assert_invalid(&["q"]);
}
