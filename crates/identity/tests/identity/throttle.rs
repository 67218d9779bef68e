use std::{net::IpAddr, time::Duration};

use zayavki_identity::{Identity, ManualClock, Role, Throttle, ThrottleConfig, ThrottleKey};

/// A throttle whose time moves only when `clock` is advanced.
fn throttle_at(clock: &ManualClock, per_second: u32, burst: u32) -> Throttle {
    Throttle::new(ThrottleConfig {
        per_second,
        burst,
        clock: clock.clone().into(),
        ..ThrottleConfig::default()
    })
    .expect("throttle")
}

/// A throttle whose time stands still.
fn throttle(per_second: u32, burst: u32) -> Throttle {
    throttle_at(&ManualClock::new(), per_second, burst)
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
    let clock = ManualClock::new();
    let throttle = throttle_at(&clock, 20, 2);
    let caller = ThrottleKey::Subject("user-1".to_owned());
    assert!(throttle.check(&caller, 2).is_ok());
    let refused = throttle.check(&caller, 1).expect_err("empty bucket");
    assert_eq!(refused.retry_after, Duration::from_millis(50));

    clock.advance(Duration::from_millis(49));
    assert!(throttle.check(&caller, 1).is_err(), "not yet a whole unit");
    clock.advance(Duration::from_millis(1));

    assert!(throttle.check(&caller, 1).is_ok());
    assert!(throttle.check(&caller, 1).is_err());
    clock.advance(Duration::from_millis(100));
    assert!(
        throttle.check(&caller, 2).is_ok(),
        "two units after two periods"
    );
    clock.advance(Duration::from_secs(60));
    assert!(
        throttle.check(&caller, 3).is_err(),
        "a bucket never holds more than its burst"
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

#[test]
fn services_have_buckets_of_their_own_with_their_own_limit() {
    let clock = ManualClock::new();
    let throttle = Throttle::new(ThrottleConfig {
        per_second: 1,
        burst: 2,
        service_per_second: 10,
        service_burst: 5,
        clock: clock.clone().into(),
        ..ThrottleConfig::default()
    })
    .expect("throttle");
    let service =
        ThrottleKey::for_identity(&Identity::new("business-process").with_role(Role::Service));
    let person = ThrottleKey::for_identity(&Identity::new("olga").with_role(Role::Operator));

    assert!(throttle.check(&person, 2).is_ok());
    assert!(throttle.check(&person, 1).is_err(), "a person's burst is 2");
    assert!(
        throttle.check(&service, 5).is_ok(),
        "a service's burst is 5, untouched by the person"
    );
    let refused = throttle
        .check(&service, 1)
        .expect_err("service burst spent");
    assert_eq!(refused.burst, 5);
    assert_eq!(refused.retry_after, Duration::from_millis(100));

    clock.advance(Duration::from_millis(100));

    assert!(throttle.check(&service, 1).is_ok(), "10 per second refill");
    assert!(throttle.check(&person, 1).is_err(), "1 per second refill");
}

#[test]
fn the_defaults_fit_a_full_batch_for_a_person_and_more_for_a_service() {
    let throttle = Throttle::new(ThrottleConfig {
        clock: ManualClock::new().into(),
        ..ThrottleConfig::default()
    })
    .expect("throttle");
    let person = ThrottleKey::for_identity(&Identity::new("alice").with_role(Role::Applicant));
    let service =
        ThrottleKey::for_identity(&Identity::new("report-service").with_role(Role::Service));

    assert!(
        throttle.check(&person, 1).is_ok() && throttle.check(&person, 999).is_ok(),
        "a call plus the rest of a 1,000-item batch"
    );
    assert!(throttle.check(&person, 1).is_err());
    assert!(throttle.check(&service, 4000).is_ok());
    assert!(throttle.check(&service, 1).is_err());
}
