//! Settings from environment variables, with defaults that work on a developer machine.
//! Every variable is documented in README.md.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use zayavki_common::{
    amqp::AmqpSettings,
    config::{Variables, env_list, env_or, env_parse},
    database::{DEFAULT_DATABASE_URL, DatabaseSettings},
    outbox::RelaySettings,
    telemetry,
};
use zayavki_identity::{IdentityConfig, ThrottleConfig};

/// Two reads at a time. A primary-key read costs PostgreSQL far more per statement than per
/// row, so under load one query answering every lookup that queued behind the previous one
/// beats a query per lookup; but with a single slot, one slow read (a cold page, a lock wait,
/// a busy connection) holds up every other lookup until it returns. A second slot keeps the
/// others moving meanwhile, and lookups still share queries, so it gives up little throughput
/// (`bench/README.md`).
const DEFAULT_READ_QUERIES: usize = 2;
/// Each export keeps a pooled connection for as long as its reader takes; four leave most of
/// the default pool of sixteen to every other request, however many reports are built at once.
const DEFAULT_EXPORT_CONCURRENCY: usize = 4;

#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`; the database is created when missing.
    pub database: DatabaseSettings,
    /// `DATABASE_READ_QUERIES`, default 2: how many reads of single applications by id run at
    /// once; lookups arriving meanwhile share the next query.
    pub read_queries: usize,
    /// `EXPORT_CONCURRENCY`, default 4: how many exports run at once; any more wait for a
    /// running one to finish.
    pub export_concurrency: usize,
    /// `APPLICATION_GRPC_ADDR`, default `127.0.0.1:50051`. Port 0 picks a free port.
    pub grpc_address: SocketAddr,
    /// `APPLICATION_HTTP_ADDR`, default `127.0.0.1:8080`.
    pub http_address: SocketAddr,
    /// `CORS_ALLOWED_ORIGINS`, comma-separated browser origins allowed to call gRPC-Web and REST.
    pub cors_allowed_origins: Vec<String>,
    /// `HTTP_BODY_LIMIT_BYTES`, default 4 MiB.
    pub http_body_limit_bytes: usize,
    /// `SHUTDOWN_GRACE_SECONDS`: how long in-flight requests may finish after a stop signal.
    pub shutdown_grace: Duration,
    /// `IDEMPOTENCY_RETENTION_HOURS`: how long idempotency keys are remembered (at least 24).
    pub idempotency_retention: Duration,
    /// `SEARCH_INDEX_DIR`, default `data/search-index`.
    pub search_index_dir: PathBuf,
    /// `JWT_*`: how bearer tokens are verified (see zayavki-identity).
    pub identity: IdentityConfig,
    /// `RATE_LIMIT_*`: per-caller token buckets.
    pub throttle: ThrottleConfig,
    /// `AMQP_URL`, default this machine's RabbitMQ: where the outbox relay publishes events.
    /// `None` runs no relay (events stay in the outbox until a replica with one runs).
    pub events: Option<RelaySettings>,
}

/// The variables [`Settings::from_env`] reads itself, each with a default.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "IDEMPOTENCY_RETENTION_HOURS",
    "DATABASE_READ_QUERIES",
    "EXPORT_CONCURRENCY",
    "APPLICATION_GRPC_ADDR",
    "APPLICATION_HTTP_ADDR",
    "CORS_ALLOWED_ORIGINS",
    "HTTP_BODY_LIMIT_BYTES",
    "SHUTDOWN_GRACE_SECONDS",
    "SEARCH_INDEX_DIR",
    "OUTBOX_RETENTION_HOURS",
];

/// Every variable the `application-service` binary reads: its own, the token and rate-limit
/// settings, RabbitMQ's and logging's. None is required: without a token key it generates one
/// for the run (outside production), which only suits a service running alone.
pub fn variables() -> Variables {
    Variables::optional(VARIABLES)
        .and(IdentityConfig::variables())
        .and(ThrottleConfig::variables())
        .and(Variables::optional(AmqpSettings::VARIABLES))
        .and(telemetry::variables())
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut database = DatabaseSettings::new(env_or("DATABASE_URL", DEFAULT_DATABASE_URL));
        database.max_connections = env_parse("DATABASE_MAX_CONNECTIONS", 16)?;
        let retention_hours: u64 = env_parse("IDEMPOTENCY_RETENTION_HOURS", 24)?;
        anyhow::ensure!(
            retention_hours >= 24,
            "IDEMPOTENCY_RETENTION_HOURS must be at least 24"
        );
        Ok(Self {
            database,
            read_queries: env_parse("DATABASE_READ_QUERIES", DEFAULT_READ_QUERIES)?,
            export_concurrency: env_parse("EXPORT_CONCURRENCY", DEFAULT_EXPORT_CONCURRENCY)?,
            grpc_address: env_parse("APPLICATION_GRPC_ADDR", default_address(50051))?,
            http_address: env_parse("APPLICATION_HTTP_ADDR", default_address(8080))?,
            cors_allowed_origins: match env_list("CORS_ALLOWED_ORIGINS") {
                origins if origins.is_empty() => default_cors_origins(),
                origins => origins,
            },
            http_body_limit_bytes: env_parse("HTTP_BODY_LIMIT_BYTES", 4 * 1024 * 1024)?,
            shutdown_grace: Duration::from_secs(env_parse("SHUTDOWN_GRACE_SECONDS", 10)?),
            idempotency_retention: Duration::from_secs(retention_hours * 3600),
            search_index_dir: PathBuf::from(env_or("SEARCH_INDEX_DIR", "data/search-index")),
            identity: IdentityConfig::from_env()?,
            throttle: ThrottleConfig::from_env()?,
            events: Some(RelaySettings {
                retention: Duration::from_secs(env_parse("OUTBOX_RETENTION_HOURS", 168)? * 3600),
                ..relay_settings(AmqpSettings::from_env())
            }),
        })
    }

    /// Settings for a service on free loopback ports against `database_url` (tests, launcher).
    pub fn for_database(database_url: &str) -> Self {
        Self {
            database: DatabaseSettings::new(database_url),
            read_queries: DEFAULT_READ_QUERIES,
            export_concurrency: DEFAULT_EXPORT_CONCURRENCY,
            grpc_address: default_address(0),
            http_address: default_address(0),
            cors_allowed_origins: default_cors_origins(),
            http_body_limit_bytes: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(5),
            idempotency_retention: Duration::from_secs(24 * 3600),
            search_index_dir: std::env::temp_dir()
                .join(format!("zayavki-index-{}", uuid::Uuid::new_v4())),
            identity: IdentityConfig::development().0,
            throttle: ThrottleConfig::disabled(),
            events: None,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.database.database_name().context("DATABASE_URL")?;
        anyhow::ensure!(
            (1..=self.database.max_connections as usize).contains(&self.read_queries),
            "DATABASE_READ_QUERIES must be between 1 and DATABASE_MAX_CONNECTIONS ({})",
            self.database.max_connections
        );
        anyhow::ensure!(
            self.export_concurrency >= 1,
            "EXPORT_CONCURRENCY must be at least 1"
        );
        Ok(())
    }
}

/// The outbox relay of application-service, publishing to `amqp`.
pub fn relay_settings(amqp: AmqpSettings) -> RelaySettings {
    RelaySettings::new(amqp, "application-service")
}

fn default_address(port: u16) -> SocketAddr {
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
            ("DATABASE_URL", "postgres://postgres@db:5432/zayavki"),
            ("APPLICATION_HTTP_ADDR", "0.0.0.0:8080"),
            ("JWT_SECRET", "a shared secret of at least 32 bytes"),
        ];

        let (settings, asked) = read_recorded(&environment, || {
            telemetry::Logging::from_env(telemetry::DEFAULT_FILTER);
            Settings::from_env()
        });

        let settings = settings.expect("valid settings");
        assert_eq!(settings.http_address.to_string(), "0.0.0.0:8080");
        assert!(settings.identity.has_verification_key());
        assert_eq!(asked, variables().names().map(str::to_owned).collect());
    }
}
