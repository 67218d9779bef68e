//! `GET /applications/stats` over REST: counts and sums per UTC day and status, who counts
//! what, the period's bounds and limits, and the answer's shape in the OpenAPI document.

use application_service::http::OPENAPI_DOCUMENT;
use chrono::{Days, NaiveDate, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zayavki_identity::Role;

use crate::{
    helpers::{TestApp, spawn_app},
    rest_helpers::{Rest, id_of},
};

/// Files an application with items of these (quantity, unit price) and returns its id.
async fn file(client: &Rest, title: &str, items: &[(u32, &str)]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|(quantity, unit_price)| {
            json!({ "name": "Позиция", "quantity": quantity, "unitPrice": unit_price })
        })
        .collect();
    let reply = client
        .post_json("/applications", &json!({ "title": title, "items": items }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    id_of(&reply.body)
}

/// Moves an application to another filing instant and status.
async fn place(app: &TestApp, id: &str, applied_at: &str, status: &str) {
    sqlx::query(
        "UPDATE applications SET applied_at = $2::timestamptz, status = $3 WHERE id = $1::uuid",
    )
    .bind(id)
    .bind(applied_at)
    .bind(status)
    .execute(&app.pool)
    .await
    .expect("placed");
}

/// The stats for `query`, which must answer 200, as (day, status, count, totalAmount) rows.
async fn stats(client: &Rest, query: &str) -> Vec<(String, String, u64, String)> {
    let reply = client.get(&format!("/applications/stats?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {reply:?}");
    assert_eq!(reply.content_type(), "application/json");
    let entries = reply.body.as_array().expect("an array");
    entries
        .iter()
        .map(|entry| {
            assert_day_stats_shape(entry);
            (
                entry["day"].as_str().unwrap_or_default().to_owned(),
                entry["status"].as_str().unwrap_or_default().to_owned(),
                entry["count"].as_u64().unwrap_or_default(),
                entry["totalAmount"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn row(day: &str, status: &str, count: u64, total: &str) -> (String, String, u64, String) {
    (day.to_owned(), status.to_owned(), count, total.to_owned())
}

/// Asserts the `ApplicationDayStats` schema of the document: exactly its properties, each of
/// the documented type and format.
fn assert_day_stats_shape(entry: &Value) {
    let document: serde_yaml::Value =
        serde_yaml::from_str(OPENAPI_DOCUMENT).expect("the document is YAML");
    let schema = &document["components"]["schemas"]["ApplicationDayStats"];
    let mut documented: Vec<&str> = schema["properties"]
        .as_mapping()
        .expect("documented properties")
        .keys()
        .map(|key| key.as_str().expect("property names are strings"))
        .collect();
    documented.sort_unstable();
    let mut required: Vec<&str> = schema["required"]
        .as_sequence()
        .expect("required properties")
        .iter()
        .map(|name| name.as_str().expect("property names are strings"))
        .collect();
    required.sort_unstable();
    let mut present: Vec<&str> = entry
        .as_object()
        .expect("an entry is an object")
        .keys()
        .map(String::as_str)
        .collect();
    present.sort_unstable();
    assert_eq!(present, documented, "{entry}");
    assert_eq!(present, required, "{entry}");

    NaiveDate::parse_from_str(entry["day"].as_str().expect("day is a string"), "%Y-%m-%d")
        .expect("day is YYYY-MM-DD");
    let status = entry["status"].as_str().expect("status is a string");
    let statuses: Vec<&str> = document["components"]["schemas"]["ApplicationStatus"]["enum"]
        .as_sequence()
        .expect("statuses")
        .iter()
        .filter_map(|status| status.as_str())
        .collect();
    assert!(statuses.contains(&status), "{entry}");
    assert!(
        entry["count"].as_u64().is_some_and(|count| count >= 1),
        "{entry}"
    );
    let total = entry["totalAmount"]
        .as_str()
        .expect("totalAmount is a string");
    let (whole, fraction) = total.split_once('.').expect("a decimal point");
    assert!(
        !whole.is_empty()
            && whole.bytes().all(|byte| byte.is_ascii_digit())
            && fraction.len() == 2
            && fraction.bytes().all(|byte| byte.is_ascii_digit()),
        "{entry}"
    );
}

/// Alice's and Bob's applications over three days of March 2025, with boundary instants.
async fn file_march(app: &TestApp) {
    let alice = Rest::applicant(app, "alice");
    let bob = Rest::applicant(app, "bob");
    let placements = [
        (&alice, &[(2, "10.25")][..], "2025-03-01T00:00:00Z", "NEW"),
        (&alice, &[(1, "0.05")][..], "2025-03-01T12:00:00Z", "NEW"),
        (
            &bob,
            &[(3, "100")][..],
            "2025-03-01T23:59:59.999999Z",
            "COMPLETED",
        ),
        // 23:59:59 UTC on March 1 although it is March 2 in Moscow.
        (&bob, &[][..], "2025-03-02T02:59:59+03:00", "CANCELLED"),
        (
            &alice,
            &[(12, "35.50"), (6, "40")][..],
            "2025-03-02T00:00:00Z",
            "PROCESSING",
        ),
        (
            &alice,
            &[(1, "999999999999.99")][..],
            "2025-03-02T10:00:00Z",
            "PROCESSING",
        ),
        (&bob, &[(1, "1.01")][..], "2025-03-02T11:00:00Z", "REJECTED"),
        (&alice, &[(1, "5")][..], "2025-03-04T00:00:00Z", "COMPLETED"),
        (&bob, &[(1, "7.5")][..], "2025-03-04T05:00:00Z", "COMPLETED"),
    ];
    for (index, (client, items, applied_at, status)) in placements.into_iter().enumerate() {
        let id = file(client, &format!("Заявка {index}"), items).await;
        place(app, &id, applied_at, status).await;
    }
}

const MARCH: &str = "appliedFrom=2025-03-01&appliedTo=2025-03-31";

#[tokio::test]
async fn counts_and_sums_are_exact_per_utc_day_and_status_in_lifecycle_order() {
    let app = spawn_app().await;
    file_march(&app).await;
    let everything = vec![
        row("2025-03-01", "NEW", 2, "20.55"),
        row("2025-03-01", "COMPLETED", 1, "300.00"),
        row("2025-03-01", "CANCELLED", 1, "0.00"),
        row("2025-03-02", "PROCESSING", 2, "1000000000665.99"),
        row("2025-03-02", "REJECTED", 1, "1.01"),
        row("2025-03-04", "COMPLETED", 2, "12.50"),
    ];

    assert_eq!(
        stats(&Rest::operator(&app, "olga"), MARCH).await,
        everything
    );
    let service = Rest::as_user(&app, "report-service", &[Role::Service]);
    assert_eq!(stats(&service, MARCH).await, everything);
    // A user who is also an operator counts everything.
    let both = Rest::as_user(&app, "alice", &[Role::Applicant, Role::Operator]);
    assert_eq!(stats(&both, MARCH).await, everything);
}

#[tokio::test]
async fn an_applicant_counts_only_their_own_applications() {
    let app = spawn_app().await;
    file_march(&app).await;

    assert_eq!(
        stats(&Rest::applicant(&app, "alice"), MARCH).await,
        [
            row("2025-03-01", "NEW", 2, "20.55"),
            row("2025-03-02", "PROCESSING", 2, "1000000000665.99"),
            row("2025-03-04", "COMPLETED", 1, "5.00"),
        ]
    );
    assert_eq!(
        stats(&Rest::applicant(&app, "bob"), MARCH).await,
        [
            row("2025-03-01", "COMPLETED", 1, "300.00"),
            row("2025-03-01", "CANCELLED", 1, "0.00"),
            row("2025-03-02", "REJECTED", 1, "1.01"),
            row("2025-03-04", "COMPLETED", 1, "7.50"),
        ]
    );
    assert!(
        stats(&Rest::applicant(&app, "carol"), MARCH)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn dates_cover_whole_utc_days_and_instants_are_inclusive() {
    let app = spawn_app().await;
    file_march(&app).await;
    let olga = Rest::operator(&app, "olga");

    // A date as both bounds is that whole UTC day, up to its last microsecond.
    assert_eq!(
        stats(&olga, "appliedFrom=2025-03-01&appliedTo=2025-03-01").await,
        [
            row("2025-03-01", "NEW", 2, "20.55"),
            row("2025-03-01", "COMPLETED", 1, "300.00"),
            row("2025-03-01", "CANCELLED", 1, "0.00"),
        ]
    );
    // An instant as the lower bound includes that instant, and only from it on.
    assert_eq!(
        stats(
            &olga,
            "appliedFrom=2025-03-01T00:00:00.000001Z&appliedTo=2025-03-01"
        )
        .await[0],
        row("2025-03-01", "NEW", 1, "0.05")
    );
    assert_eq!(
        stats(
            &olga,
            "appliedFrom=2025-03-02T03:00:00%2B03:00&appliedTo=2025-03-02T10:00:00Z"
        )
        .await,
        [row("2025-03-02", "PROCESSING", 2, "1000000000665.99")]
    );
    // An instant as the upper bound includes that instant and nothing after it.
    assert_eq!(
        stats(
            &olga,
            "appliedFrom=2025-03-01&appliedTo=2025-03-01T23:59:59.999998Z"
        )
        .await,
        [
            row("2025-03-01", "NEW", 2, "20.55"),
            row("2025-03-01", "CANCELLED", 1, "0.00"),
        ]
    );
    assert_eq!(
        stats(
            &olga,
            "appliedFrom=2025-03-03&appliedTo=2025-03-04T00:00:00Z"
        )
        .await,
        [row("2025-03-04", "COMPLETED", 1, "5.00")]
    );
    assert!(
        stats(&olga, "appliedFrom=2025-03-03&appliedTo=2025-03-03")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn without_a_start_the_period_is_the_366_days_up_to_its_end() {
    let app = spawn_app().await;
    let olga = Rest::operator(&app, "olga");
    let alice = Rest::applicant(&app, "alice");
    let first_day = file(&alice, "Первый день", &[(1, "1")]).await;
    let day_before = file(&alice, "Накануне", &[(1, "2")]).await;
    // 2024-03-04 is 365 days before 2025-03-04: together 366 whole days.
    place(&app, &first_day, "2024-03-04T00:00:00Z", "NEW").await;
    place(&app, &day_before, "2024-03-03T23:59:59.999999Z", "NEW").await;
    assert_eq!(
        stats(&olga, "appliedTo=2025-03-04").await,
        [row("2024-03-04", "NEW", 1, "1.00")]
    );

    // Without any bound: the last 366 days, today included. Days are the server's UTC days; a
    // run that straddles midnight tries once more.
    let today_id = file(&alice, "Сегодня", &[(1, "3")]).await;
    let oldest_id = file(&alice, "Год назад", &[(1, "4")]).await;
    let too_old_id = file(&alice, "Давно", &[(1, "5")]).await;
    for attempt in 1..=2 {
        let today = Utc::now().date_naive();
        let oldest = today - Days::new(365);
        let now = Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        place(&app, &today_id, &now, "NEW").await;
        place(&app, &oldest_id, &format!("{oldest}T00:00:00Z"), "NEW").await;
        place(
            &app,
            &too_old_id,
            &format!("{}T23:59:59.999999Z", oldest - Days::new(1)),
            "NEW",
        )
        .await;
        let counted = stats(&olga, "").await;
        let from_start = stats(&olga, &format!("appliedFrom={oldest}")).await;
        if Utc::now().date_naive() != today && attempt == 1 {
            continue;
        }
        let expected = [
            row(&oldest.to_string(), "NEW", 1, "4.00"),
            row(&today.to_string(), "NEW", 1, "3.00"),
        ];
        assert_eq!(counted, expected);
        // The same start given explicitly, with the period running until now.
        assert_eq!(from_start, expected);
        break;
    }
}

#[tokio::test]
async fn a_period_longer_than_366_days_or_reversed_is_named() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    // A leap year of whole days is the longest period.
    stats(&alice, "appliedFrom=2024-01-01&appliedTo=2024-12-31").await;
    stats(
        &alice,
        "appliedFrom=2025-01-01T00:00:00Z&appliedTo=2026-01-01T23:59:59.999999Z",
    )
    .await;
    for query in [
        "appliedFrom=2025-01-01&appliedTo=2026-01-02",
        "appliedFrom=2025-01-01T00:00:00Z&appliedTo=2026-01-02T00:00:00Z",
        "appliedFrom=0001-01-01&appliedTo=9999-12-31",
    ] {
        let reply = alice.get(&format!("/applications/stats?{query}")).await;
        reply.assert_invalid(&["appliedTo"]);
        assert!(
            reply.error_message("appliedTo").contains("366 days"),
            "{reply:?}"
        );
    }
    // Without an end the period runs until now.
    let since_long_ago = alice
        .get("/applications/stats?appliedFrom=2000-01-01")
        .await;
    since_long_ago.assert_invalid(&["appliedFrom"]);
    assert!(
        since_long_ago
            .error_message("appliedFrom")
            .contains("366 days")
    );
    let almost_a_year = (Utc::now() - TimeDelta::days(300)).date_naive();
    stats(&alice, &format!("appliedFrom={almost_a_year}")).await;

    alice
        .get("/applications/stats?appliedFrom=2025-03-02&appliedTo=2025-03-01")
        .await
        .assert_invalid(&["appliedTo"]);
    alice
        .get("/applications/stats?appliedFrom=2025-03-01T10:00:00Z&appliedTo=2025-03-01T09:59:59Z")
        .await
        .assert_invalid(&["appliedTo"]);
    // The same instant twice is a period of one instant.
    assert!(
        stats(
            &alice,
            "appliedFrom=2025-03-01T10:00:00Z&appliedTo=2025-03-01T13:00:00%2B03:00"
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn every_wrong_parameter_is_named_and_odd_input_is_never_a_500() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let reply = alice
        .get("/applications/stats?sort=day&appliedFrom=yesterday&appliedTo=2025-02-30")
        .await;
    reply.assert_invalid(&["sort", "appliedFrom", "appliedTo"]);
    assert_eq!(reply.error_message("sort"), "unknown query parameter");

    for (query, field) in [
        ("status=NEW", "status"),
        ("pageSize=10", "pageSize"),
        ("pageToken=abc", "pageToken"),
        ("appliedFrom=", "appliedFrom"),
        ("appliedFrom=%202025-03-01", "appliedFrom"),
        (
            "appliedFrom=2025-03-01&appliedFrom=2025-03-02",
            "appliedFrom",
        ),
        ("appliedTo=2025-03-01%2010:00:00", "appliedTo"),
        ("appliedTo=2025-03-01T10:00:00", "appliedTo"),
        ("appliedTo=%00", "appliedTo"),
    ] {
        alice
            .get(&format!("/applications/stats?{query}"))
            .await
            .assert_invalid(&[field]);
    }

    // The edges of the calendar are periods like any other.
    for query in [
        "appliedFrom=9999-12-31&appliedTo=9999-12-31",
        "appliedFrom=9999-12-31T23:59:59.999999Z",
        "appliedTo=9999-12-31T23:59:59%2B23:59",
        "appliedFrom=0000-01-01&appliedTo=0000-01-01",
        "appliedTo=0000-01-01T00:00:00-23:59",
        "appliedTo=0000-01-01",
    ] {
        assert!(stats(&alice, query).await.is_empty(), "{query}");
    }
}
