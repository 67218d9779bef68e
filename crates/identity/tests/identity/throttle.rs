use std::{net::IpAddr, time::Duration};

use zayavki_identity::{Identity, Throttle, ThrottleConfig, ThrottleKey};

fn throttle(per_second: u32, burst: u32) -> Throttle {
    Throttle::new(ThrottleConfig {
        per_second,
        burst,
        enabled: true,
    })
    .expect("throttle")
}

#[test]
fn a_caller_is_refused_after_the_burst_and_others_are_not() {
    let throttle = throttle(1, 3);
    let caller = ThrottleKey::for_identity(&Identity::new("user-1"));
    let other = ThrottleKey::Address(IpAddr::from([127, 0, 0, 1]));

    for _ in 0..3 {
        assert!(throttle.check(&caller, 1).is_ok());
    }
    let refused = throttle.check(&caller, 1).expect_err("burst spent");

    assert!(refused.retry_after > Duration::ZERO);
    assert!(refused.retry_after <= Duration::from_secs(1));
    assert!(!refused.exceeds_burst());
    assert!(throttle.check(&other, 1).is_ok());
}

#[test]
fn a_cost_larger_than_the_burst_is_refused_with_a_clear_message() {
    let throttle = throttle(10, 5);
    let caller = ThrottleKey::Subject("batch-user".to_owned());

    let refused = throttle.check(&caller, 6).expect_err("never fits");

    assert!(refused.exceeds_burst());
    assert_eq!((refused.cost, refused.burst), (6, 5));
    assert!(
        refused
            .to_string()
            .contains("split it into smaller requests"),
        "{refused}"
    );
    assert!(
        throttle.check(&caller, 5).is_ok(),
        "the refused request spent nothing"
    );
}

#[test]
fn the_bucket_refills_over_time() {
    // 20 per second: one unit every 50 ms.
    let throttle = throttle(20, 2);
    let caller = ThrottleKey::Subject("user-1".to_owned());
    assert!(throttle.check(&caller, 2).is_ok());
    let refused = throttle.check(&caller, 1).expect_err("empty bucket");
    assert!(refused.retry_after <= Duration::from_millis(50));

    std::thread::sleep(Duration::from_millis(60));

    assert!(throttle.check(&caller, 1).is_ok());
    assert!(throttle.check(&caller, 1).is_err());
    std::thread::sleep(Duration::from_millis(110));
    assert!(
        throttle.check(&caller, 2).is_ok(),
        "two units after two periods"
    );
}

#[test]
fn extra_cost_is_charged_to_the_same_bucket() {
    let throttle = throttle(1, 10);
    let caller = ThrottleKey::for_identity(&Identity::new("batch-user"));

    assert!(throttle.check(&caller, 1).is_ok());
    assert!(
        throttle.clone().check(&caller, 8).is_ok(),
        "clones share the buckets"
    );
    assert!(
        throttle.check(&caller, 0).is_ok(),
        "zero cost always passes"
    );
    assert!(throttle.check(&caller, 2).is_err());
}

#[test]
fn a_disabled_throttle_allows_everything() {
    let throttle = Throttle::new(ThrottleConfig::disabled()).expect("throttle");
    let caller = ThrottleKey::Unidentified;

    assert!(!throttle.is_enabled());
    for _ in 0..1000 {
        assert!(throttle.check(&caller, 1_000_000).is_ok());
    }
}

#[test]
fn throttled_answers_carry_retry_after_in_whole_seconds() {
    let throttle = throttle(1, 1);
    let caller = ThrottleKey::Unidentified;
    throttle.check(&caller, 1).expect("first");
    let refused = throttle.check(&caller, 1).expect_err("second");

    let status = refused.to_status();
    let problem = refused.to_problem();

    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        status
            .metadata()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("1")
    );
    assert_eq!(problem.status, 429);
    assert!(
        problem
            .headers
            .iter()
            .any(|(name, value)| name == http::header::RETRY_AFTER && value == "1")
    );
}
