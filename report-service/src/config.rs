//! Settings from environment variables, with defaults that work on a developer machine.
//! Every variable is documented in README.md.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use zayavki_common::{
    amqp::AmqpSettings,
    config::{Variables, env_list, env_optional, env_or, env_parse},
    database::DatabaseSettings,
    outbox::RelaySettings,
    telemetry,
};
use zayavki_identity::{IdentityConfig, ThrottleConfig};

use crate::{
    build::xlsx_file::SHEET_ROW_LIMIT, content::StorageLocation, download::DownloadSecret,
    event_log::EventLogSettings, ws::WebSocketSettings,
};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/zayavki_reports";
/// The name report-service publishes under (`app_id`) and connects to RabbitMQ as.
pub const APP_ID: &str = "report-service";

#[derive(Clone, Debug)]
pub struct Settings {
    /// `REPORT_DATABASE_URL`; the database is created when missing.
    pub database: DatabaseSettings,
    /// `REPORT_HTTP_ADDR`, default `127.0.0.1:8082`: the API, downloads, WebSocket, probes.
    pub http_address: SocketAddr,
    /// `APPLICATION_SERVICE_URL`, default `http://127.0.0.1:50051`.
    pub application_service_url: String,
    /// `AMQP_URL`.
    pub amqp: AmqpSettings,
    /// `REPORT_PREFETCH`, default 2: jobs this process builds at once.
    pub prefetch: u16,
    /// `REPORT_MAX_ATTEMPTS`, default 5: builds of one report before it is given up.
    pub max_attempts: u32,
    /// `REPORT_STORAGE`: a directory (default `data/reports`) or `s3://bucket/prefix`.
    pub storage: StorageLocation,
    /// `REPORT_WORK_DIR`, default the system's temporary directory: where files are written
    /// before they are stored.
    pub work_dir: PathBuf,
    /// `DOWNLOAD_URL_SECRET`, or derived from `JWT_SECRET` (or the private key file).
    pub download_secret: DownloadSecret,
    /// The outbox relay publishing report events.
    pub relay: RelaySettings,
    /// `CORS_ALLOWED_ORIGINS`.
    pub cors_allowed_origins: Vec<String>,
    /// `SHUTDOWN_GRACE_SECONDS`, default 10.
    pub shutdown_grace: Duration,
    /// Reconnecting to RabbitMQ backs off up to this.
    pub max_reconnect_backoff: Duration,
    /// The shortest time between two `report.progress` events of one report.
    pub progress_interval: Duration,
    /// Rows an XLSX sheet holds, its header included, before the rows continue on the next
    /// sheet: Excel's limit of 1,048,576 (smaller only in tests).
    pub xlsx_rows_per_sheet: u32,
    /// `EVENT_LOG_*`: how the WebSocket's event log is followed and kept.
    pub event_log: EventLogSettings,
    /// `WS_*`: pings, idle and slow WebSocket clients.
    pub websocket: WebSocketSettings,
    pub identity: IdentityConfig,
    pub throttle: ThrottleConfig,
}

/// The variables [`Settings::from_env`] reads itself (with the event log's and the
/// WebSocket's), each with a default.
pub const VARIABLES: &[&str] = &[
    "REPORT_DATABASE_URL",
    "REPORT_DATABASE_MAX_CONNECTIONS",
    "REPORT_HTTP_ADDR",
    "APPLICATION_SERVICE_URL",
    "REPORT_PREFETCH",
    "REPORT_MAX_ATTEMPTS",
    "REPORT_STORAGE",
    "REPORT_S3_ENDPOINT",
    "REPORT_WORK_DIR",
    "DOWNLOAD_URL_SECRET",
    "CORS_ALLOWED_ORIGINS",
    "SHUTDOWN_GRACE_SECONDS",
    "EVENT_LOG_RETENTION_SECONDS",
    "EVENT_LOG_PRUNE_INTERVAL_SECONDS",
    "EVENT_LOG_POLL_SECONDS",
    "WS_PING_INTERVAL_SECONDS",
    "WS_IDLE_TIMEOUT_SECONDS",
    "WS_SEND_TIMEOUT_SECONDS",
    "WS_BUFFER",
];

/// Download URLs are signed with `DOWNLOAD_URL_SECRET` or a key derived from one of the others.
pub const DOWNLOAD_SECRET: &[&str] = &["DOWNLOAD_URL_SECRET", "JWT_SECRET", "JWT_PRIVATE_KEY_FILE"];

/// Every variable the `report-service` binary reads: its own, the token and rate-limit
/// settings, RabbitMQ's and logging's. It mints `service` tokens for application-service,
/// verifies its callers' tokens and signs download URLs, so it needs a key for each. With
/// `REPORT_STORAGE=s3://…` the S3 client also reads the usual `AWS_*` variables, not listed here.
pub fn variables() -> Variables {
    Variables::optional(VARIABLES)
        .and(IdentityConfig::variables())
        .requiring_one_of(IdentityConfig::SIGNING_KEY)
        .requiring_one_of(IdentityConfig::VERIFICATION_KEY)
        .requiring_one_of(DOWNLOAD_SECRET)
        .and(ThrottleConfig::variables())
        .and(Variables::optional(AmqpSettings::VARIABLES))
        .and(telemetry::variables())
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut database =
            DatabaseSettings::new(env_or("REPORT_DATABASE_URL", DEFAULT_DATABASE_URL));
        database.max_connections = env_parse("REPORT_DATABASE_MAX_CONNECTIONS", 16)?;
        let amqp = AmqpSettings::from_env();
        let identity = IdentityConfig::from_env()?;
        Ok(Self {
            database,
            http_address: env_parse("REPORT_HTTP_ADDR", loopback(8082))?,
            application_service_url: env_or("APPLICATION_SERVICE_URL", "http://127.0.0.1:50051"),
            relay: relay_settings(amqp.clone()),
            amqp,
            prefetch: env_parse("REPORT_PREFETCH", 2)?,
            max_attempts: env_parse("REPORT_MAX_ATTEMPTS", 5)?,
            storage: StorageLocation::parse(&env_or("REPORT_STORAGE", "data/reports"))
                .context("REPORT_STORAGE")?
                .with_s3_endpoint(env_optional("REPORT_S3_ENDPOINT")),
            work_dir: env_optional("REPORT_WORK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
            download_secret: download_secret(&identity)?,
            cors_allowed_origins: match env_list("CORS_ALLOWED_ORIGINS") {
                origins if origins.is_empty() => default_cors_origins(),
                origins => origins,
            },
            shutdown_grace: Duration::from_secs(env_parse("SHUTDOWN_GRACE_SECONDS", 10)?),
            max_reconnect_backoff: Duration::from_secs(10),
            progress_interval: Duration::from_secs(1),
            xlsx_rows_per_sheet: SHEET_ROW_LIMIT,
            event_log: EventLogSettings::from_env()?,
            websocket: WebSocketSettings::from_env()?,
            identity,
            throttle: ThrottleConfig::from_env()?,
        })
    }

    /// Settings on a free loopback port against `database_url`, calling application-service at
    /// `application_service_url`, RabbitMQ at `amqp`, storing files under `storage_dir`
    /// (tests, launcher).
    pub fn for_tests(
        database_url: &str,
        application_service_url: &str,
        amqp: AmqpSettings,
        storage_dir: PathBuf,
    ) -> Self {
        let mut relay = relay_settings(amqp.clone());
        relay.leader_retry = Duration::from_millis(100);
        relay.max_backoff = Duration::from_millis(500);
        let identity = IdentityConfig::development().0;
        Self {
            database: DatabaseSettings::new(database_url),
            http_address: loopback(0),
            application_service_url: application_service_url.to_owned(),
            amqp,
            prefetch: 2,
            max_attempts: 5,
            work_dir: storage_dir.join("work"),
            storage: StorageLocation::Local(storage_dir.join("reports")),
            download_secret: DownloadSecret::new(b"test download secret, 32 bytes..".to_vec()),
            relay,
            cors_allowed_origins: default_cors_origins(),
            shutdown_grace: Duration::from_secs(5),
            max_reconnect_backoff: Duration::from_millis(500),
            progress_interval: Duration::from_secs(1),
            xlsx_rows_per_sheet: SHEET_ROW_LIMIT,
            event_log: EventLogSettings::default(),
            websocket: WebSocketSettings::default(),
            identity,
            throttle: ThrottleConfig::disabled(),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.database
            .database_name()
            .context("REPORT_DATABASE_URL")?;
        anyhow::ensure!(self.prefetch >= 1, "REPORT_PREFETCH must be at least 1");
        anyhow::ensure!(
            self.max_attempts >= 1,
            "REPORT_MAX_ATTEMPTS must be at least 1"
        );
        self.event_log.validate()?;
        self.websocket.validate()?;
        Ok(())
    }
}

/// `DOWNLOAD_URL_SECRET` when set; otherwise a key derived from `JWT_SECRET`, or from the
/// private key file, so that every replica configured alike signs alike.
fn download_secret(identity: &IdentityConfig) -> anyhow::Result<DownloadSecret> {
    if let Some(secret) = env_optional("DOWNLOAD_URL_SECRET") {
        anyhow::ensure!(
            secret.len() >= 32,
            "DOWNLOAD_URL_SECRET must be at least 32 bytes"
        );
        return Ok(DownloadSecret::new(secret.into_bytes()));
    }
    if let Some(secret) = &identity.secret {
        return Ok(DownloadSecret::derived_from(
            secret.expose_secret().as_bytes(),
        ));
    }
    if let Some(path) = &identity.private_key_file {
        let key = std::fs::read(path)
            .with_context(|| format!("cannot read JWT_PRIVATE_KEY_FILE {}", path.display()))?;
        return Ok(DownloadSecret::derived_from(&key));
    }
    anyhow::bail!(
        "report-service signs download URLs: set DOWNLOAD_URL_SECRET, or JWT_SECRET or \
         JWT_PRIVATE_KEY_FILE to derive it from"
    )
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

/// The relay of report events: progress needs no listener (browsers read it from the event
/// log), so it is published even while no queue is bound to `report.progress`.
fn relay_settings(amqp: AmqpSettings) -> RelaySettings {
    let mut relay = RelaySettings::new(amqp, APP_ID);
    relay.optional_routing_keys = vec![crate::storage::report_events::PROGRESS.to_owned()];
    relay
}

#[cfg(test)]
mod variables_tests {
    use zayavki_common::config::read_recorded;

    use super::*;

    #[test]
    fn the_binary_reads_exactly_the_declared_variables() {
        let environment = [
            ("REPORT_HTTP_ADDR", "0.0.0.0:8082"),
            ("REPORT_STORAGE", "/var/lib/zayavki/reports/files"),
            ("JWT_SECRET", "a shared secret of at least 32 bytes"),
        ];

        let (settings, asked) = read_recorded(&environment, || {
            telemetry::Logging::from_env(telemetry::DEFAULT_FILTER);
            Settings::from_env()
        });

        let settings = settings.expect("valid settings");
        assert_eq!(settings.http_address.to_string(), "0.0.0.0:8082");
        assert_eq!(asked, variables().names().map(str::to_owned).collect());
    }
}
