//! `GET /applications/{id}` and `GET /applications` over REST: visibility, filters, pagination
//! and strict query strings.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zayavki_identity::Role;

use crate::{
    helpers::{TestApp, spawn_app},
    rest_helpers::{Rest, assert_application_shape, id_of},
};

async fn set_applied_at(app: &TestApp, id: &str, at: &str) {
    sqlx::query("UPDATE applications SET applied_at = $2::timestamptz WHERE id = $1::uuid")
        .bind(id)
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("moved in time");
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Follows `nextPageToken` to the end.
async fn list_all(client: &Rest, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let path = match &token {
            Some(token) => format!("/applications?{query}&pageToken={token}"),
            None => format!("/applications?{query}"),
        };
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        items.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .cloned(),
        );
        match page.body["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => {
                assert!(page.body["nextPageToken"].is_null());
                return items;
            }
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn get_returns_the_application_to_its_applicant_and_operators_only() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let created = alice.create("Канцтовары").await;
    let path = format!("/applications/{}", id_of(&created));

    let own = alice.get(&path).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.content_type(), "application/json");
    assert_application_shape(&own.body);
    assert_eq!(own.body, created);

    for reader in [
        Rest::operator(&app, "olga"),
        Rest::as_user(&app, "robot", &[Role::Service]),
    ] {
        assert_eq!(reader.get(&path).await.body, created);
    }

    // Someone else's application answers exactly like a missing one.
    let bob = Rest::applicant(&app, "bob");
    let foreign = bob.get(&path).await;
    foreign.assert_problem(404, "not-found");
    let missing_id = uuid::Uuid::new_v4().to_string();
    let missing = bob.get(&format!("/applications/{missing_id}")).await;
    missing.assert_problem(404, "not-found");
    let not_found = |id: &str| format!("Application {id} was not found.");
    assert_eq!(foreign.body["detail"], not_found(&id_of(&created)));
    assert_eq!(missing.body["detail"], not_found(&missing_id));
}

#[tokio::test]
async fn malformed_ids_are_400_naming_id() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    for id in ["not-a-uuid", "12345", "%FF%FE"] {
        alice
            .get(&format!("/applications/{id}"))
            .await
            .assert_invalid(&["id"]);
    }
}

#[tokio::test]
async fn list_is_newest_first_and_shows_applicants_only_their_own() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let bob = Rest::applicant(&app, "bob");
    for title in ["первая", "вторая", "третья"] {
        alice.create(title).await;
    }
    bob.create("чужая").await;

    let page = alice.get("/applications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(titles(&page.body), ["третья", "вторая", "первая"]);
    assert!(page.body["nextPageToken"].is_null());
    assert!(page.text.contains(r#""nextPageToken":null"#));
    for item in page.body["items"].as_array().expect("items") {
        assert_application_shape(item);
    }

    let everyone = Rest::operator(&app, "olga").get("/applications").await;
    assert_eq!(everyone.body["items"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn pagination_visits_every_row_once() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let applications: Vec<Value> = (0..130)
        .map(|index| json!({ "title": format!("{index}") }))
        .collect();
    let created = alice
        .post_json(
            "/applications/batch",
            &json!({ "applications": applications }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let first = alice.get("/applications?pageSize=50").await;
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(50));
    assert!(first.body["nextPageToken"].is_string());

    let all = list_all(&alice, "pageSize=17").await;
    let ids: HashSet<String> = all.iter().map(id_of).collect();
    assert_eq!(all.len(), 130);
    assert_eq!(ids.len(), 130);

    // Without pageSize a page holds 50.
    let default = alice.get("/applications").await;
    assert_eq!(default.body["items"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn filters_by_status_in_every_documented_spelling_and_by_date() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let march_1 = alice.create_id("1 марта").await;
    let march_2 = alice.create_id("2 марта").await;
    let march_3 = alice.create_id("3 марта").await;
    set_applied_at(&app, &march_1, "2025-03-01T00:00:00Z").await;
    set_applied_at(&app, &march_2, "2025-03-02T23:59:59.999999Z").await;
    set_applied_at(&app, &march_3, "2025-03-03T00:00:00Z").await;
    alice
        .post_json(&format!("/applications/{march_3}/cancel"), &json!({}))
        .await;

    let found = |query: &'static str| {
        let alice = alice.clone();
        async move {
            let page = alice.get(&format!("/applications?{query}")).await;
            assert_eq!(page.status, StatusCode::OK, "{query}: {page:?}");
            titles(&page.body)
        }
    };
    assert_eq!(found("status=CANCELLED").await, ["3 марта"]);
    assert_eq!(found("status=NEW").await, ["2 марта", "1 марта"]);
    let all = ["3 марта", "2 марта", "1 марта"];
    assert_eq!(found("status=NEW,CANCELLED").await, all);
    assert_eq!(found("status=NEW&status=CANCELLED").await, all);
    assert_eq!(found("status=NEW%2CPROCESSING&status=CANCELLED").await, all);
    assert_eq!(found("status=PROCESSING").await, Vec::<String>::new());
    assert_eq!(
        found("appliedFrom=2025-03-01&appliedTo=2025-03-02").await,
        ["2 марта", "1 марта"]
    );
    assert_eq!(
        found("appliedFrom=2025-03-02T23:59:59.999999Z&appliedTo=2025-03-03T03:00:00%2B03:00")
            .await,
        ["3 марта", "2 марта"]
    );
    assert_eq!(
        found("appliedFrom=2025-03-01&appliedTo=2025-03-02&status=NEW").await,
        ["2 марта", "1 марта"]
    );
}

#[tokio::test]
async fn every_wrong_parameter_is_named_in_one_answer() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let reply = alice
        .get("/applications?pageSize=0&status=DONE&sort=title&appliedFrom=yesterday")
        .await;
    reply.assert_invalid(&["sort", "appliedFrom", "status", "pageSize"]);
    assert_eq!(reply.error_message("sort"), "unknown query parameter");
    assert!(reply.error_message("status").contains("DONE"));

    for (query, field) in [
        ("status=new", "status"),
        ("status=", "status"),
        ("status=NEW,", "status"),
        ("pageSize=1001", "pageSize"),
        ("pageSize=-1", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("pageSize=10&pageSize=20", "pageSize"),
        ("appliedFrom=2025-02-30", "appliedFrom"),
        ("appliedFrom=yesterday", "appliedFrom"),
        ("appliedFrom=", "appliedFrom"),
        ("appliedTo=2025-03-01%2010:00:00", "appliedTo"),
        ("appliedFrom=2025-03-02&appliedTo=2025-03-01", "appliedTo"),
        ("pageToken=garbage", "pageToken"),
        ("pageToken=", "pageToken"),
        ("q=ложки", "q"),
    ] {
        let reply = alice.get(&format!("/applications?{query}")).await;
        reply.assert_invalid(&[field]);
    }
}

#[tokio::test]
async fn a_page_token_only_works_with_the_filters_that_made_it() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    for title in ["a", "b", "c"] {
        alice.create(title).await;
    }
    let first = alice.get("/applications?status=NEW&pageSize=1").await;
    let token = first.body["nextPageToken"].as_str().expect("more pages");

    let same = alice
        .get(&format!(
            "/applications?status=NEW&pageSize=2&pageToken={token}"
        ))
        .await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(titles(&same.body), ["b", "a"]);

    alice
        .get(&format!("/applications?status=CANCELLED&pageToken={token}"))
        .await
        .assert_invalid(&["pageToken"]);
}
