//! Notifications through the outside notification service, which may be slow or down.
//!
//! A step that notifies someone queues the notification in the `notifications` table in its own
//! transaction ([`crate::storage::notifications::enqueue`]); the process goes on at once and never
//! fails because of the notification service. A delivery worker ([`spawn_delivery`]) sends what
//! is queued, in the background, through one client ([`client`]) that owns the resilience:
//!
//! - each attempt times out after `NOTIFIER_TIMEOUT_MS` (5 s); up to `NOTIFIER_ATTEMPTS` (3)
//!   attempts, with exponential backoff and full jitter;
//! - a circuit breaker ([`breaker`], resilience4j's model) opens when at least half of the last
//!   10 calls failed, once 5 were made; it then refuses calls for
//!   `NOTIFIER_BREAKER_OPEN_SECONDS` (30), lets 3 trial calls through, and closes when all 3
//!   succeed (one failing opens it again). While it is open nothing is sent and nobody waits;
//! - 5xx, 408, 429, timeouts and connection errors are failures, retried and counted by the
//!   breaker. Another 4xx refuses that one notification: it is not retried, does not count against
//!   the service (which answered), and stays in the table with the reason for an operator;
//! - a notification not delivered stays queued and is tried again after its own backoff (1 s
//!   doubling up to 60 s), or when the breaker lets trials through. Delivery is at least once with
//!   a stable id (the idempotency key the service deduplicates on), so a notification queued while
//!   the service is down is delivered once it recovers.
//!
//! The breaker's state and the number of undelivered notifications are logged when they change,
//! exported as metrics (`zayavki_notifier_breaker_state`: 0 closed, 1 half-open, 2 open;
//! `zayavki_notifications_undelivered`; `zayavki_notifications_delivered_total`;
//! `zayavki_notifier_failures_total` by `reason`) and published as a [`DeliveryStatus`] that
//! readiness reports as detail (degraded, still ready).
//!
//! Without `NOTIFIER_URL`, notifications go to the development sink ([`sink`], HTTP on
//! `NOTIFICATION_SINK_ADDR`, default `127.0.0.1:8090`), which lists what it received at
//! `GET /notifications`.

pub mod breaker;
pub mod client;
pub mod delivery;
pub mod sink;

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use metrics::Unit;
use reqwest::Url;
use sqlx::PgPool;
use tokio::{
    sync::{broadcast, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use zayavki_common::{
    config::{Variables, env_optional, env_parse},
    telemetry,
};

pub use breaker::{BreakerSettings, BreakerState, CircuitBreaker, Transition};
pub use client::{NotifierClient, RetrySettings, SendError};
pub use delivery::{DeliverySettings, DeliveryStatus};
pub use sink::NotificationSink;

/// Breaker state: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "zayavki_notifier_breaker_state";
/// Notifications queued and not yet delivered.
pub const UNDELIVERED: &str = "zayavki_notifications_undelivered";
/// Notifications the service accepted.
pub const DELIVERED_TOTAL: &str = "zayavki_notifications_delivered_total";
/// Calls to the service that failed, by `reason`.
pub const FAILURES_TOTAL: &str = "zayavki_notifier_failures_total";

/// Where the development sink listens unless `NOTIFICATION_SINK_ADDR` says otherwise.
pub const DEFAULT_SINK_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8090);

/// What [`sink_address_from_env`] reads.
pub const SINK_VARIABLES: &[&str] = &["NOTIFICATION_SINK_ADDR"];

/// Where the development sink listens: `NOTIFICATION_SINK_ADDR`, default `127.0.0.1:8090`.
pub fn sink_address_from_env() -> anyhow::Result<SocketAddr> {
    env_parse("NOTIFICATION_SINK_ADDR", DEFAULT_SINK_ADDRESS)
}

/// Every variable a process running only the development sink reads: its address and logging's.
pub fn sink_variables() -> Variables {
    Variables::optional(SINK_VARIABLES).and(telemetry::variables())
}

/// How notifications are delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifierSettings {
    /// `NOTIFIER_URL`: the notification service (`http://`); `None` sends to the development sink.
    pub url: Option<Url>,
    /// `NOTIFICATION_SINK_ADDR`, default `127.0.0.1:8090`: where the development sink listens.
    pub sink_address: SocketAddr,
    /// `NOTIFIER_TIMEOUT_MS`, default 5000: each attempt's limit.
    pub timeout: Duration,
    /// `NOTIFIER_ATTEMPTS`, default 3, in `retry.attempts`.
    pub retry: RetrySettings,
    /// `NOTIFIER_BREAKER_OPEN_SECONDS`, default 30, in `breaker.open_for`; the window (10),
    /// minimum calls (5), threshold (50 %) and trials (3) are fixed.
    pub breaker: BreakerSettings,
    pub delivery: DeliverySettings,
}

impl NotifierSettings {
    /// What [`NotifierSettings::from_env`] reads, each with a default (`NOTIFIER_URL`'s: the
    /// development sink on `NOTIFICATION_SINK_ADDR`).
    pub const VARIABLES: &[&str] = &[
        "NOTIFIER_URL",
        "NOTIFICATION_SINK_ADDR",
        "NOTIFIER_TIMEOUT_MS",
        "NOTIFIER_ATTEMPTS",
        "NOTIFIER_BREAKER_OPEN_SECONDS",
    ];

    pub fn from_env() -> anyhow::Result<Self> {
        let url = env_optional("NOTIFIER_URL")
            .map(|raw| {
                raw.trim()
                    .parse::<Url>()
                    .with_context(|| format!("NOTIFIER_URL={raw:?} is not a URL"))
            })
            .transpose()?;
        let settings = Self {
            url,
            sink_address: sink_address_from_env()?,
            timeout: Duration::from_millis(env_parse("NOTIFIER_TIMEOUT_MS", 5_000)?),
            retry: RetrySettings {
                attempts: env_parse("NOTIFIER_ATTEMPTS", 3)?,
                ..RetrySettings::default()
            },
            breaker: BreakerSettings {
                open_for: Duration::from_secs(env_parse("NOTIFIER_BREAKER_OPEN_SECONDS", 30)?),
                ..BreakerSettings::default()
            },
            delivery: DeliverySettings::default(),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Sends to `url` (`None`: the development sink's default address) with every wait short:
    /// sub-second timeouts and backoffs, a breaker open for 300 ms. The safety-net wake-up stays
    /// long, so a test sees notifications wake the worker.
    ///
    /// # Panics
    /// When `url` is not a URL: a test's own mistake.
    pub fn for_tests(url: Option<String>) -> Self {
        Self {
            url: url.map(|raw| raw.parse().expect("a test's notifier URL is a valid URL")),
            sink_address: DEFAULT_SINK_ADDRESS,
            timeout: Duration::from_secs(1),
            retry: RetrySettings {
                attempts: 3,
                min_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
            },
            breaker: BreakerSettings {
                open_for: Duration::from_millis(300),
                ..BreakerSettings::default()
            },
            delivery: DeliverySettings {
                batch_size: 8,
                backoff_min: Duration::from_millis(50),
                backoff_max: Duration::from_millis(500),
                idle_check: Duration::from_secs(30),
            },
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.url {
            anyhow::ensure!(
                url.scheme() == "http",
                "NOTIFIER_URL must be an http:// URL, got {url}"
            );
        }
        anyhow::ensure!(
            (1..=10).contains(&self.retry.attempts),
            "NOTIFIER_ATTEMPTS must be between 1 and 10"
        );
        anyhow::ensure!(
            !self.timeout.is_zero(),
            "NOTIFIER_TIMEOUT_MS must be above 0"
        );
        anyhow::ensure!(
            !self.breaker.open_for.is_zero(),
            "NOTIFIER_BREAKER_OPEN_SECONDS must be above 0"
        );
        anyhow::ensure!(
            self.delivery.batch_size > 0,
            "the delivery batch size must be above 0"
        );
        Ok(())
    }

    /// Where notifications go: `NOTIFIER_URL`, or the development sink.
    pub fn service_url(&self) -> anyhow::Result<Url> {
        match &self.url {
            Some(url) => Ok(url.clone()),
            None => format!("http://{}", self.sink_address)
                .parse()
                .context("the notification sink address does not make a URL"),
        }
    }

    /// The client these settings describe, with a breaker of its own.
    pub fn client(&self) -> anyhow::Result<NotifierClient> {
        NotifierClient::new(
            &self.service_url()?,
            self.timeout,
            self.retry.clone(),
            CircuitBreaker::new(self.breaker.clone()),
        )
    }

    /// Longer than one send can take (every attempt timing out, every retry waiting its
    /// longest), with a margin: only then may another worker take over a claimed row.
    fn claim_lease(&self) -> Duration {
        let attempts = u32::try_from(self.retry.attempts).unwrap_or(u32::MAX);
        (self.timeout + self.retry.max_delay).saturating_mul(attempts) + Duration::from_secs(30)
    }
}

/// A running delivery worker.
pub struct DeliveryHandle {
    /// Ends after `shutdown` is cancelled.
    pub task: JoinHandle<()>,
    pub status: watch::Receiver<DeliveryStatus>,
    /// Every transition of the client's breaker since the worker was spawned.
    pub breaker_transitions: broadcast::Receiver<Transition>,
}

/// Starts delivering queued notifications until `shutdown` is cancelled: the task to wait for,
/// and the status for readiness.
///
/// Never fails the caller: settings that cannot make a client (only possible when they were
/// built by hand, `from_env` validates them) are logged, and the status then reports the service
/// as open (down) for good.
pub fn spawn_delivery(
    pool: PgPool,
    settings: NotifierSettings,
    shutdown: CancellationToken,
) -> (JoinHandle<()>, watch::Receiver<DeliveryStatus>) {
    match start_delivery(pool, settings, shutdown) {
        Ok(handle) => (handle.task, handle.status),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot deliver notifications; they stay queued");
            let (_, status) = watch::channel(DeliveryStatus {
                breaker: BreakerState::Open,
                undelivered: 0,
                refused: 0,
            });
            (tokio::spawn(async {}), status)
        }
    }
}

/// Like [`spawn_delivery`], with the breaker's transitions too (tests wait for them).
pub fn start_delivery(
    pool: PgPool,
    settings: NotifierSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<DeliveryHandle> {
    settings.validate()?;
    describe_metrics();
    let client = settings.client()?;
    match &settings.url {
        Some(url) => tracing::info!(url = %url, "delivering notifications"),
        None => {
            tracing::info!(sink = %settings.sink_address, "NOTIFIER_URL not set; delivering notifications to the development sink");
        }
    }
    let breaker_transitions = client.breaker().subscribe();
    let (status_sender, status) = watch::channel(DeliveryStatus {
        breaker: client.breaker().state(),
        undelivered: 0,
        refused: 0,
    });
    let worker = delivery::DeliveryWorker {
        pool,
        lease: settings.claim_lease(),
        client,
        settings: settings.delivery,
        status: status_sender,
    };
    Ok(DeliveryHandle {
        task: tokio::spawn(worker.run(shutdown)),
        status,
        breaker_transitions,
    })
}

fn describe_metrics() {
    metrics::describe_gauge!(
        BREAKER_STATE,
        Unit::Count,
        "State of the notification service's circuit breaker: 0 closed, 1 half-open, 2 open"
    );
    metrics::describe_gauge!(
        UNDELIVERED,
        Unit::Count,
        "Notifications queued and not yet delivered (refused ones excluded)"
    );
    metrics::describe_counter!(
        DELIVERED_TOTAL,
        Unit::Count,
        "Notifications the notification service accepted"
    );
    metrics::describe_counter!(
        FAILURES_TOTAL,
        Unit::Count,
        "Calls to the notification service that failed, by reason (timeout, connection, unavailable, refused)"
    );
}

#[cfg(test)]
mod tests {
    use zayavki_common::config::read_recorded;

    use super::*;

    #[test]
    fn the_sink_reads_exactly_its_declared_variables() {
        let (address, asked) = read_recorded(&[("NOTIFICATION_SINK_ADDR", "0.0.0.0:8090")], || {
            telemetry::Logging::from_env(telemetry::DEFAULT_FILTER);
            sink_address_from_env()
        });

        assert_eq!(address.expect("an address").to_string(), "0.0.0.0:8090");
        assert_eq!(asked, sink_variables().names().map(str::to_owned).collect());
    }
}
