//! Per-user token buckets on gRPC: RESOURCE_EXHAUSTED with a retry hint after the burst, a
//! batch pays for every item, and the bucket refills.

use std::time::Duration;

use tonic::Code;
use zayavki_identity::ThrottleConfig;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, draft, spawn_app_with};

fn get(id: &str) -> pb::GetApplicationRequest {
    pb::GetApplicationRequest { id: id.to_owned() }
}

#[tokio::test]
async fn calls_beyond_the_burst_are_refused_until_the_bucket_refills() {
    let app = spawn_app_with(|settings| {
        settings.throttle = ThrottleConfig {
            per_second: 2,
            burst: 3,
            enabled: true,
        };
    })
    .await;
    let mut alice = app.applicant("alice");
    let id = uuid::Uuid::new_v4().to_string();

    for call in 0..3 {
        let status = alice.get_application(get(&id)).await.expect_err("missing");
        assert_code(&status, Code::NotFound);
        let _ = call;
    }
    let throttled = alice
        .get_application(get(&id))
        .await
        .expect_err("throttled");
    assert_code(&throttled, Code::ResourceExhausted);
    assert!(
        throttled.metadata().get("retry-after").is_some(),
        "{throttled:?}"
    );

    // Another user has a bucket of their own.
    let status = app
        .applicant("bob")
        .get_application(get(&id))
        .await
        .expect_err("missing");
    assert_code(&status, Code::NotFound);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let status = alice
        .get_application(get(&id))
        .await
        .expect_err("missing again");
    assert_code(&status, Code::NotFound);
}

#[tokio::test]
async fn a_batch_counts_every_item() {
    let app = spawn_app_with(|settings| {
        settings.throttle = ThrottleConfig {
            per_second: 1,
            burst: 5,
            enabled: true,
        };
    })
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
