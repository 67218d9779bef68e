//! Per-caller token buckets on gRPC: RESOURCE_EXHAUSTED with a retry hint after the burst, a
//! batch pays for every item, the bucket refills, and services have a limit of their own.
//!
//! The throttle reads a manual clock that only the test moves, so what is refused does not
//! depend on how fast the machine runs the calls.

use std::time::Duration;

use tonic::Code;
use zayavki_identity::{ManualClock, ThrottleConfig};
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{TestApp, assert_code, draft, spawn_app_with};

fn get(id: &str) -> pb::GetApplicationRequest {
    pb::GetApplicationRequest { id: id.to_owned() }
}

async fn spawn_throttled(clock: &ManualClock, limits: ThrottleConfig) -> TestApp {
    let clock = clock.clone();
    spawn_app_with(move |settings| {
        settings.throttle = ThrottleConfig {
            clock: clock.into(),
            ..limits
        };
    })
    .await
}

#[tokio::test]
async fn calls_beyond_the_burst_are_refused_until_the_bucket_refills() {
    let clock = ManualClock::new();
    let app = spawn_throttled(
        &clock,
        ThrottleConfig {
            per_second: 2,
            burst: 3,
            ..ThrottleConfig::default()
        },
    )
    .await;
    let mut alice = app.applicant("alice");
    let id = uuid::Uuid::new_v4().to_string();

    for _ in 0..3 {
        let status = alice.get_application(get(&id)).await.expect_err("missing");
        assert_code(&status, Code::NotFound);
    }
    let throttled = alice
        .get_application(get(&id))
        .await
        .expect_err("throttled");
    assert_code(&throttled, Code::ResourceExhausted);
    assert_eq!(
        throttled
            .metadata()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("1"),
        "{throttled:?}"
    );

    // Another user has a bucket of their own.
    let status = app
        .applicant("bob")
        .get_application(get(&id))
        .await
        .expect_err("missing");
    assert_code(&status, Code::NotFound);

    // Two per second: one unit back after half a second, and only one.
    clock.advance(Duration::from_millis(500));
    let status = alice
        .get_application(get(&id))
        .await
        .expect_err("missing again");
    assert_code(&status, Code::NotFound);
    let status = alice
        .get_application(get(&id))
        .await
        .expect_err("throttled again");
    assert_code(&status, Code::ResourceExhausted);
}

#[tokio::test]
async fn a_batch_counts_every_item() {
    let clock = ManualClock::new();
    let app = spawn_throttled(
        &clock,
        ThrottleConfig {
            per_second: 1,
            burst: 5,
            ..ThrottleConfig::default()
        },
    )
    .await;
    let mut alice = app.applicant("alice");
    let batch = |size: usize| pb::BatchCreateApplicationsRequest {
        request_id: String::new(),
        applications: (0..size).map(|index| draft(&format!("{index}"))).collect(),
    };

    let too_big = alice
        .batch_create_applications(batch(6))
        .await
        .expect_err("over the burst");
    assert_code(&too_big, Code::ResourceExhausted);

    // The refused batch spent only its call's unit: four of five remain.
    alice
        .batch_create_applications(batch(4))
        .await
        .expect("four of five units");
    let status = alice
        .batch_create_applications(batch(2))
        .await
        .expect_err("one unit left");
    assert_code(&status, Code::ResourceExhausted);
}

#[tokio::test]
async fn services_are_limited_apart_from_people_and_more_generously() {
    let clock = ManualClock::new();
    let app = spawn_throttled(
        &clock,
        ThrottleConfig {
            per_second: 1,
            burst: 2,
            service_per_second: 1,
            service_burst: 10,
            ..ThrottleConfig::default()
        },
    )
    .await;
    let mut lifecycle = app.lifecycle();
    let mut alice = app.applicant("alice");
    let missing = || pb::TransitionRequest {
        id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };

    for _ in 0..10 {
        let status = lifecycle
            .start_processing(missing())
            .await
            .expect_err("missing");
        assert_code(&status, Code::NotFound);
    }
    let throttled = lifecycle
        .start_processing(missing())
        .await
        .expect_err("service burst spent");
    assert_code(&throttled, Code::ResourceExhausted);

    // The service's traffic left the person's bucket alone.
    for _ in 0..2 {
        let status = alice
            .get_application(get(&missing().id))
            .await
            .expect_err("missing");
        assert_code(&status, Code::NotFound);
    }
    let status = alice
        .get_application(get(&missing().id))
        .await
        .expect_err("person's burst spent");
    assert_code(&status, Code::ResourceExhausted);
}
