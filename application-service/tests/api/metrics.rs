//! `GET /metrics`: open, in the Prometheus text format, counting requests of both protocols by
//! method (never by raw path) and status, and showing whatever the `metrics` facade records.
//!
//! The recorder belongs to the process, and other tests may share it: counts are compared
//! before and after, never as absolute numbers.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use tonic::Code;
use uuid::Uuid;
use zayavki_common::metrics::{
    OUTBOX_OLDEST_AGE_SECONDS, RELAY_FAILURES_TOTAL, REQUEST_DURATION_SECONDS, REQUESTS_TOTAL,
    SEARCH_INDEX_LAG_TRANSACTIONS,
};
use zayavki_proto::applications::v1 as pb;

use crate::{
    helpers::{TestApp, assert_code, spawn_app},
    rest_helpers::{Rest, id_of},
};

const GET_APPLICATION: &str = "/applications.v1.ApplicationService/GetApplication";

#[tokio::test]
async fn requests_of_both_protocols_are_counted_by_method_and_status() {
    let app = spawn_app().await;
    let before = scrape(&app).await;

    let rest = Rest::applicant(&app, "alice");
    let id = id_of(&rest.create("Ложки чайные").await);
    let missing = Uuid::new_v4().to_string();
    let not_found = rest.get(&format!("/applications/{missing}")).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND, "{not_found:?}");
    let stray = Uuid::new_v4().to_string();
    let unrouted = rest.get(&format!("/no-such-resource/{stray}")).await;
    assert_eq!(unrouted.status, StatusCode::NOT_FOUND, "{unrouted:?}");
    let mut grpc = app.applicant("alice");
    grpc.get_application(pb::GetApplicationRequest { id: id.clone() })
        .await
        .expect("the application is found");
    let status = grpc
        .get_application(pb::GetApplicationRequest {
            id: missing.clone(),
        })
        .await
        .expect_err("an unknown id is not found");
    assert_code(&status, Code::NotFound);

    let after = scrape(&app).await;
    let expected = [
        (("http", "POST /applications", "201"), "REST create"),
        (
            ("http", "GET /applications/{id}", "404"),
            "REST get of a missing id",
        ),
        (("http", "unknown", "404"), "a path no route matches"),
        (("grpc", GET_APPLICATION, "OK"), "gRPC get"),
        (
            ("grpc", GET_APPLICATION, "NOT_FOUND"),
            "gRPC get of a missing id",
        ),
    ];
    for ((protocol, method, status), what) in expected {
        let labels = [
            ("protocol", protocol),
            ("method", method),
            ("status", status),
        ];
        let counted = after.increase(&before, REQUESTS_TOTAL, &labels);
        assert!(counted >= 1.0, "{what} is counted: {}", after.text);
        let timed = after.increase(
            &before,
            &format!("{REQUEST_DURATION_SECONDS}_count"),
            &labels,
        );
        assert!(timed >= 1.0, "{what} is timed: {}", after.text);
        let slowest_bucket = [
            ("protocol", protocol),
            ("method", method),
            ("status", status),
            ("le", "10"),
        ];
        let bucketed = after.increase(
            &before,
            &format!("{REQUEST_DURATION_SECONDS}_bucket"),
            &slowest_bucket,
        );
        assert!(bucketed >= 1.0, "{what} falls in a bucket: {}", after.text);
    }
    for raw in [&id, &missing, &stray] {
        assert!(
            !after.text.contains(raw.as_str()),
            "no label carries an id from a path: {}",
            after.text
        );
    }
    assert!(after.text.contains(&format!("# HELP {REQUESTS_TOTAL} ")));
    assert!(
        after
            .text
            .contains(&format!("# TYPE {REQUEST_DURATION_SECONDS} histogram"))
    );
}

#[tokio::test]
async fn metrics_need_no_token_and_show_what_the_facade_records_with_help_text() {
    let app = spawn_app().await;
    let before = scrape(&app).await;

    metrics::counter!(RELAY_FAILURES_TOTAL).increment(3);
    metrics::gauge!(OUTBOX_OLDEST_AGE_SECONDS).set(1.5);

    let after = scrape(&app).await;
    assert!(
        after.increase(&before, RELAY_FAILURES_TOTAL, &[]) >= 3.0,
        "{}",
        after.text
    );
    assert!(
        after.value(OUTBOX_OLDEST_AGE_SECONDS, &[]).is_some(),
        "{}",
        after.text
    );
    for name in [RELAY_FAILURES_TOTAL, OUTBOX_OLDEST_AGE_SECONDS] {
        assert!(
            after.text.contains(&format!("# HELP {name} ")),
            "{name} has help text: {}",
            after.text
        );
    }
}

#[tokio::test]
async fn the_search_index_lag_is_reported_once_the_index_has_caught_up() {
    let app = spawn_app().await;
    let scrape = scrape_until(&app, |scrape| {
        scrape.value(SEARCH_INDEX_LAG_TRANSACTIONS, &[]).is_some()
    })
    .await;
    let lag = scrape
        .value(SEARCH_INDEX_LAG_TRANSACTIONS, &[])
        .unwrap_or(f64::NAN);
    assert!(lag >= 0.0, "{}", scrape.text);
    assert!(
        scrape
            .text
            .contains(&format!("# HELP {SEARCH_INDEX_LAG_TRANSACTIONS} ")),
        "{}",
        scrape.text
    );
}

/// A metric name and its labels, sorted.
type Series = (String, BTreeMap<String, String>);

/// One answer of `/metrics`: its text and every sample by series.
struct Scrape {
    text: String,
    samples: BTreeMap<Series, f64>,
}

impl Scrape {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// How much a counter grew since `before` (a series not there yet counts from 0).
    fn increase(&self, before: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or(0.0) - before.value(name, labels).unwrap_or(0.0)
    }
}

/// Scrapes without a token, as Prometheus does.
async fn scrape(app: &TestApp) -> Scrape {
    let reply = Rest::anonymous(app).get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        reply.content_type().starts_with("text/plain")
            && reply.content_type().contains("version=0.0.4"),
        "{reply:?}"
    );
    let samples = reply
        .text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("a sample line: {line:?}")))
        .collect();
    Scrape {
        text: reply.text,
        samples,
    }
}

/// Scrapes until `ready` holds: what the service records in the background appears when it
/// gets to it.
async fn scrape_until(app: &TestApp, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let scrape = scrape(app).await;
        if ready(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "never came: {}", scrape.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `name{key="value",…} number`; label values may hold braces (route templates do).
fn parse_sample(line: &str) -> Option<(Series, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let Some((name, mut rest)) = series.split_once('{') else {
        return Some(((series.to_owned(), BTreeMap::new()), value));
    };
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches(',');
        if rest == "}" {
            return Some(((name.to_owned(), labels), value));
        }
        let (key, quoted) = rest.split_once("=\"")?;
        let mut label_value = String::new();
        let mut characters = quoted.char_indices();
        let end = loop {
            match characters.next()? {
                (_, '\\') => match characters.next()?.1 {
                    'n' => label_value.push('\n'),
                    other => label_value.push(other),
                },
                (index, '"') => break index,
                (_, other) => label_value.push(other),
            }
        };
        labels.insert(key.to_owned(), label_value);
        rest = &quoted[end + 1..];
    }
}
