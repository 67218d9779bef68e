//! `from_env` runs in a child process: tests cannot change their own environment safely.

use std::{process::Command, time::Duration};

use zayavki_identity::{IdentityConfig, ThrottleConfig, TokenVerifier};

const SCENARIO: &str = "ZAYAVKI_IDENTITY_TEST_SCENARIO";
const VARIABLES: [&str; 14] = [
    "JWT_SECRET",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_JWKS_FILE",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_KEY_ID",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "ZAYAVKI_ENV",
    "RATE_LIMIT_PER_SECOND",
    "RATE_LIMIT_BURST",
    "SERVICE_RATE_LIMIT_PER_SECOND",
    "SERVICE_RATE_LIMIT_BURST",
    "RATE_LIMIT_ENABLED",
];

fn run_child(scenario: &str, variables: &[(&str, &str)]) {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "environment::child",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(SCENARIO, scenario);
    for name in VARIABLES {
        command.env_remove(name);
    }
    command.envs(variables.iter().copied());
    let output = command.output().expect("child runs");
    assert!(
        output.status.success(),
        "scenario {scenario} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child test did not run"
    );
}

#[test]
fn every_variable_is_read() {
    run_child(
        "all-set",
        &[
            ("JWT_SECRET", "s3cret-s3cret-s3cret-s3cret-s3cret!"),
            ("JWT_PUBLIC_KEY_FILE", "/keys/public.pem"),
            ("JWT_JWKS_FILE", "/keys/jwks.json"),
            ("JWT_PRIVATE_KEY_FILE", "/keys/private.pem"),
            ("JWT_KEY_ID", "key-1"),
            ("JWT_ISSUER", "zayavki-auth"),
            ("JWT_AUDIENCE", "application-service, report-service"),
            ("JWT_LEEWAY_SECONDS", "5"),
            ("ZAYAVKI_ENV", "production"),
            ("RATE_LIMIT_PER_SECOND", "7"),
            ("RATE_LIMIT_BURST", "9"),
            ("SERVICE_RATE_LIMIT_PER_SECOND", "11"),
            ("SERVICE_RATE_LIMIT_BURST", "13"),
            ("RATE_LIMIT_ENABLED", "false"),
        ],
    );
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    run_child("defaults", &[]);
}

#[test]
fn production_without_a_key_refuses_to_start() {
    run_child("production-without-key", &[("ZAYAVKI_ENV", "production")]);
}

fn limits(config: &ThrottleConfig) -> (u32, u32, u32, u32, bool) {
    (
        config.per_second,
        config.burst,
        config.service_per_second,
        config.service_burst,
        config.enabled,
    )
}

/// Runs only as a child of the tests above.
#[test]
#[ignore = "run by the environment tests in a child process"]
fn child() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return;
    };
    match scenario.as_str() {
        "all-set" => {
            let config = IdentityConfig::from_env().expect("config");
            assert!(config.secret.is_some());
            assert_eq!(
                config.public_key_file.as_deref(),
                Some("/keys/public.pem".as_ref())
            );
            assert_eq!(
                config.jwks_file.as_deref(),
                Some("/keys/jwks.json".as_ref())
            );
            assert_eq!(
                config.private_key_file.as_deref(),
                Some("/keys/private.pem".as_ref())
            );
            assert_eq!(config.key_id.as_deref(), Some("key-1"));
            assert_eq!(config.issuer.as_deref(), Some("zayavki-auth"));
            assert_eq!(config.audience, ["application-service", "report-service"]);
            assert_eq!(config.leeway, Duration::from_secs(5));
            assert!(config.production);
            assert_eq!(
                limits(&ThrottleConfig::from_env().expect("throttle")),
                (7, 9, 11, 13, false)
            );
        }
        "defaults" => {
            let config = IdentityConfig::from_env().expect("config");
            assert!(!config.has_verification_key());
            assert_eq!(config.leeway, Duration::from_secs(30));
            assert!(!config.production);
            assert_eq!(
                limits(&ThrottleConfig::from_env().expect("throttle")),
                (100, 1000, 2000, 4000, true)
            );
        }
        "production-without-key" => {
            let config = IdentityConfig::from_env().expect("config");
            let error = TokenVerifier::new(&config).expect_err("must refuse");
            assert!(
                error.to_string().contains("ZAYAVKI_ENV=production"),
                "{error}"
            );
        }
        other => panic!("unknown scenario {other}"),
    }
}
