//! Settings from environment variables, with defaults that work on a developer machine.
//! Every variable is documented in README.md.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use zayavki_common::{
    amqp::AmqpSettings,
    config::{Variables, env_list, env_or, env_parse},
    database::DatabaseSettings,
    money::Money,
    outbox::RelaySettings,
    telemetry,
};
use zayavki_identity::{IdentityConfig, ThrottleConfig};

use crate::{domain::ReportFormat, notifier::NotifierSettings};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/zayavki_process";
/// The name business-process publishes under (`app_id`) and connects to RabbitMQ as.
pub const APP_ID: &str = "business-process";

#[derive(Clone, Debug)]
pub struct Settings {
    /// `PROCESS_DATABASE_URL`; the database is created when missing.
    pub database: DatabaseSettings,
    /// `PROCESS_GRPC_ADDR`, default `127.0.0.1:50052`.
    pub grpc_address: SocketAddr,
    /// `PROCESS_HTTP_ADDR`, default `127.0.0.1:8081`: `/healthz`, `/readyz`, `/metrics`.
    pub http_address: SocketAddr,
    /// `APPLICATION_SERVICE_URL`, default `http://127.0.0.1:50051`.
    pub application_service_url: String,
    /// `AMQP_URL`.
    pub amqp: AmqpSettings,
    /// `EVENTS_PREFETCH`, default 64: deliveries in flight per consumer.
    pub prefetch: u16,
    /// `DEFAULT_MONTHLY_BUDGET`, default 100000.00, for applicants without a budget of their own.
    pub default_monthly_budget: Money,
    /// `AUTO_APPROVE_LIMIT`, default 1000.00: totals at or below it are approved at once.
    pub auto_approve_limit: Money,
    /// `DECISION_TIMEOUT` (`48h`, `30m`, `90s`, `500ms`): how long an operator has to decide.
    pub decision_timeout: Duration,
    /// `PURCHASE_REPORT_FORMAT`, default CSV.
    pub purchase_report_format: ReportFormat,
    /// `PROCESS_WORKERS`, default 8: processes driven at once.
    pub workers: usize,
    /// `NOTIFIER_*`: the outside notification service.
    pub notifier: NotifierSettings,
    /// The outbox relay publishing report jobs.
    pub relay: RelaySettings,
    /// `CORS_ALLOWED_ORIGINS`.
    pub cors_allowed_origins: Vec<String>,
    /// `SHUTDOWN_GRACE_SECONDS`.
    pub shutdown_grace: Duration,
    /// Backoff between attempts of a step that failed for a passing reason grows up to this.
    pub max_retry_backoff: Duration,
    pub identity: IdentityConfig,
    pub throttle: ThrottleConfig,
}

/// The variables [`Settings::from_env`] reads itself, each with a default.
pub const VARIABLES: &[&str] = &[
    "PROCESS_DATABASE_URL",
    "PROCESS_DATABASE_MAX_CONNECTIONS",
    "PROCESS_GRPC_ADDR",
    "PROCESS_HTTP_ADDR",
    "APPLICATION_SERVICE_URL",
    "EVENTS_PREFETCH",
    "DEFAULT_MONTHLY_BUDGET",
    "AUTO_APPROVE_LIMIT",
    "DECISION_TIMEOUT",
    "PURCHASE_REPORT_FORMAT",
    "PROCESS_WORKERS",
    "CORS_ALLOWED_ORIGINS",
    "SHUTDOWN_GRACE_SECONDS",
];

/// Every variable the `business-process` binary reads: its own, the notifier's, the token and
/// rate-limit settings, RabbitMQ's and logging's. It mints `service` tokens for
/// application-service and verifies its callers' tokens, so it needs a key for both.
pub fn variables() -> Variables {
    Variables::optional(VARIABLES)
        .and(Variables::optional(NotifierSettings::VARIABLES))
        .and(IdentityConfig::variables())
        .requiring_one_of(IdentityConfig::SIGNING_KEY)
        .requiring_one_of(IdentityConfig::VERIFICATION_KEY)
        .and(ThrottleConfig::variables())
        .and(Variables::optional(AmqpSettings::VARIABLES))
        .and(telemetry::variables())
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut database =
            DatabaseSettings::new(env_or("PROCESS_DATABASE_URL", DEFAULT_DATABASE_URL));
        database.max_connections = env_parse("PROCESS_DATABASE_MAX_CONNECTIONS", 16)?;
        let amqp = AmqpSettings::from_env();
        Ok(Self {
            database,
            grpc_address: env_parse("PROCESS_GRPC_ADDR", loopback(50052))?,
            http_address: env_parse("PROCESS_HTTP_ADDR", loopback(8081))?,
            application_service_url: env_or("APPLICATION_SERVICE_URL", "http://127.0.0.1:50051"),
            relay: RelaySettings::new(amqp.clone(), APP_ID),
            amqp,
            prefetch: env_parse("EVENTS_PREFETCH", 64)?,
            default_monthly_budget: money("DEFAULT_MONTHLY_BUDGET", "100000.00")?,
            auto_approve_limit: money("AUTO_APPROVE_LIMIT", "1000.00")?,
            decision_timeout: parse_duration(&env_or("DECISION_TIMEOUT", "48h"))
                .context("DECISION_TIMEOUT")?,
            purchase_report_format: env_or("PURCHASE_REPORT_FORMAT", "CSV")
                .trim()
                .to_ascii_uppercase()
                .parse()
                .map_err(anyhow::Error::msg)
                .context("PURCHASE_REPORT_FORMAT")?,
            workers: env_parse("PROCESS_WORKERS", 8)?,
            notifier: NotifierSettings::from_env()?,
            cors_allowed_origins: match env_list("CORS_ALLOWED_ORIGINS") {
                origins if origins.is_empty() => default_cors_origins(),
                origins => origins,
            },
            shutdown_grace: Duration::from_secs(env_parse("SHUTDOWN_GRACE_SECONDS", 10)?),
            max_retry_backoff: Duration::from_secs(30),
            identity: IdentityConfig::from_env()?,
            throttle: ThrottleConfig::from_env()?,
        })
    }

    /// Settings on free loopback ports against `database_url`, calling application-service at
    /// `application_service_url` and RabbitMQ at `amqp` (tests, launcher).
    pub fn for_tests(
        database_url: &str,
        application_service_url: &str,
        amqp: AmqpSettings,
    ) -> Self {
        let mut relay = RelaySettings::new(amqp.clone(), APP_ID);
        relay.leader_retry = Duration::from_millis(100);
        relay.max_backoff = Duration::from_millis(500);
        Self {
            database: DatabaseSettings::new(database_url),
            grpc_address: loopback(0),
            http_address: loopback(0),
            application_service_url: application_service_url.to_owned(),
            amqp,
            prefetch: 64,
            default_monthly_budget: Money::from_minor(10_000_000).unwrap_or(Money::ZERO),
            auto_approve_limit: Money::from_minor(100_000).unwrap_or(Money::ZERO),
            decision_timeout: Duration::from_secs(48 * 3600),
            purchase_report_format: ReportFormat::Csv,
            workers: 4,
            notifier: NotifierSettings::for_tests(None),
            relay,
            cors_allowed_origins: default_cors_origins(),
            shutdown_grace: Duration::from_secs(5),
            max_retry_backoff: Duration::from_millis(500),
            identity: IdentityConfig::development().0,
            throttle: ThrottleConfig::disabled(),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.database
            .database_name()
            .context("PROCESS_DATABASE_URL")?;
        anyhow::ensure!(self.workers >= 1, "PROCESS_WORKERS must be at least 1");
        anyhow::ensure!(self.prefetch >= 1, "EVENTS_PREFETCH must be at least 1");
        Ok(())
    }
}

fn money(variable: &str, default: &str) -> anyhow::Result<Money> {
    Money::parse_amount(&env_or(variable, default))
        .map_err(|reason| anyhow::anyhow!("{variable} {reason}"))
}

/// `48h`, `30m`, `90s`, `500ms`, or a number of seconds.
pub fn parse_duration(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let split = raw
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("{raw:?} is not a duration such as 48h, 30m, 90s or 500ms"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        "d" => Duration::from_secs(number * 86_400),
        other => anyhow::bail!("{other:?} is not a duration unit (ms, s, m, h, d)"),
    };
    Ok(duration)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn default_cors_origins() -> Vec<String> {
    [
        "http://localhost:5173",
        "http://127.0.0.1:5173",
        "http://localhost:3000",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use zayavki_common::config::read_recorded;

    use super::*;

    #[test]
    fn the_binary_reads_exactly_the_declared_variables() {
        let environment = [
            ("PROCESS_GRPC_ADDR", "0.0.0.0:50052"),
            ("NOTIFIER_URL", "http://notification-sink:8090"),
            ("JWT_SECRET", "a shared secret of at least 32 bytes"),
        ];

        let (settings, asked) = read_recorded(&environment, || {
            telemetry::Logging::from_env(telemetry::DEFAULT_FILTER);
            Settings::from_env()
        });

        let settings = settings.expect("valid settings");
        assert_eq!(settings.grpc_address.to_string(), "0.0.0.0:50052");
        assert!(settings.notifier.url.is_some());
        assert_eq!(asked, variables().names().map(str::to_owned).collect());
    }

    #[test]
    fn a_token_key_is_required() {
        let unmet = variables().unmet(|name| name == "JWT_PUBLIC_KEY_FILE");

        assert_eq!(unmet, [IdentityConfig::SIGNING_KEY]);
        assert!(variables().unmet(|name| name == "JWT_SECRET").is_empty());
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let cases = [
            ("48h", Duration::from_secs(172_800)),
            ("30m", Duration::from_secs(1_800)),
            ("90s", Duration::from_secs(90)),
            ("90", Duration::from_secs(90)),
            ("250ms", Duration::from_millis(250)),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_duration(raw).expect(raw), expected, "{raw}");
        }
        for wrong in ["", "h", "5 weeks", "-1s", "1.5h"] {
            assert!(parse_duration(wrong).is_err(), "{wrong}");
        }
    }
}
