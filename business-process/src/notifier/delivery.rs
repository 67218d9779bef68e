//! The delivery worker: hands queued notifications to the outside service, in the background, so
//! a process never waits for that service nor fails because of it.
//!
//! - **Claiming.** A round claims up to `batch_size` due rows (`FOR UPDATE SKIP LOCKED`, then a
//!   lease on `next_attempt_at`; see [`crate::storage::notifications`]) and sends them at once
//!   through the [`NotifierClient`]. Replicas never send the same row at the same time, and a
//!   replica that dies mid-send leaves its rows due again when the lease ends.
//! - **Outcomes.** Accepted: marked delivered. Transient failure (the client's retries are spent):
//!   queued again after the row's own backoff, `backoff_min` doubling per failed attempt up to
//!   `backoff_max`, drawn between half and all of it. Breaker open: queued again for when it lets
//!   trials through, without counting an attempt. Refused: parked for an operator.
//! - **At least once.** A notification whose acceptance was lost (timeout after the service took
//!   it, a crash before marking it) is sent again with the same id, which the service
//!   deduplicates on.
//! - **Waking.** `enqueue` sends `NOTIFY notifications` at commit; otherwise the worker sleeps
//!   until the earliest `next_attempt_at`, or while the breaker is open until it lets trials
//!   through, and at most `idle_check` as a safety net. It never polls on a fast tick.
//! - **Reporting.** Breaker transitions and changes of the undelivered count are logged, kept in
//!   the metrics and published as a [`DeliveryStatus`].

use std::{sync::Arc, time::Duration};

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::future::join_all;
use serde::Serialize;
use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    sync::{Notify, broadcast, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    BREAKER_STATE, DELIVERED_TOTAL, UNDELIVERED,
    breaker::{BreakerState, CircuitBreaker, Transition},
    client::{NotifierClient, SendError},
};
use crate::storage::notifications::{self, Backlog, ClaimedNotification, NOTIFY_CHANNEL};

/// How the worker paces itself; `Default` has the production values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Notifications claimed and sent at once.
    pub batch_size: usize,
    /// A notification's first wait after a failed attempt...
    pub backoff_min: Duration,
    /// ...doubling up to this.
    pub backoff_max: Duration,
    /// The longest sleep without a notification from PostgreSQL.
    pub idle_check: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            batch_size: 16,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            idle_check: Duration::from_secs(60),
        }
    }
}

/// How delivery is going, for readiness: still ready when degraded, with this as detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    pub breaker: BreakerState,
    /// Notifications waiting to be delivered.
    pub undelivered: u64,
    /// Notifications the service refused, kept for an operator.
    pub refused: u64,
}

impl DeliveryStatus {
    /// The notification service is considered down or is being tried again.
    pub fn is_degraded(&self) -> bool {
        self.breaker != BreakerState::Closed
    }
}

pub(super) struct DeliveryWorker {
    pub(super) pool: PgPool,
    pub(super) client: NotifierClient,
    pub(super) settings: DeliverySettings,
    /// How long a claimed row stays out of other workers' reach: longer than a send can take.
    pub(super) lease: Duration,
    pub(super) status: watch::Sender<DeliveryStatus>,
}

impl DeliveryWorker {
    pub(super) async fn run(self, shutdown: CancellationToken) {
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(forward_notifications(self.pool.clone(), wake.clone()));
        let monitor = tokio::spawn(follow_breaker(
            self.client.breaker().clone(),
            self.client.breaker().subscribe(),
            self.status.clone(),
        ));
        let mut failed_rounds = database_backoff(self.settings.idle_check);
        loop {
            let pause = match self.round(&shutdown).await {
                Ok(pause) => {
                    failed_rounds = database_backoff(self.settings.idle_check);
                    pause
                }
                Err(error) => {
                    let pause = failed_rounds.next().unwrap_or(self.settings.idle_check);
                    tracing::warn!(error = %format!("{error:#}"), retry_in = ?pause, "notification delivery round failed");
                    pause
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        listener.abort();
        monitor.abort();
        tracing::debug!("notification delivery stopped");
    }

    /// Delivers one batch unless the breaker is open, then looks at what is left; returns how
    /// long to sleep.
    async fn round(&self, shutdown: &CancellationToken) -> anyhow::Result<Duration> {
        let more_due = if self.client.breaker().open_until().is_none() {
            self.deliver_batch(shutdown).await?
        } else {
            false
        };
        let backlog = notifications::backlog(&self.pool).await?;
        self.publish(backlog);
        if more_due {
            return Ok(Duration::ZERO);
        }
        let mut pause = backlog
            .next_due_in
            .unwrap_or(self.settings.idle_check)
            .min(self.settings.idle_check);
        if let Some(until) = self.client.breaker().open_until() {
            pause = pause.max(Instant::from_std(until).saturating_duration_since(Instant::now()));
        }
        Ok(pause)
    }

    /// True when the batch was full, so more may be due right away.
    async fn deliver_batch(&self, shutdown: &CancellationToken) -> anyhow::Result<bool> {
        let limit = i64::try_from(self.settings.batch_size).unwrap_or(i64::MAX);
        let claimed = notifications::claim_due(&self.pool, limit, self.lease).await?;
        if claimed.is_empty() {
            return Ok(false);
        }
        let full = claimed.len() >= self.settings.batch_size;
        let deliveries = join_all(claimed.iter().map(|row| self.deliver(row)));
        tokio::select! {
            outcomes = deliveries => {
                outcomes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
                Ok(full)
            }
            () = shutdown.cancelled() => {
                // Sends cut short may or may not have been taken; due again at once, they are
                // sent again with the same id.
                let ids: Vec<Uuid> = claimed.iter().map(|row| row.notification.id).collect();
                notifications::release(&self.pool, &ids).await?;
                Ok(false)
            }
        }
    }

    async fn deliver(&self, claimed: &ClaimedNotification) -> anyhow::Result<()> {
        let id = claimed.notification.id;
        match self.client.send(&claimed.notification).await {
            Ok(()) => {
                notifications::mark_delivered(&self.pool, id).await?;
                metrics::counter!(DELIVERED_TOTAL).increment(1);
                tracing::debug!(notification_id = %id, "notification delivered");
            }
            Err(SendError::BreakerOpen(rejected)) => {
                let delay = rejected.retry_in.unwrap_or(self.settings.backoff_min);
                let error = SendError::BreakerOpen(rejected).to_string();
                notifications::reschedule(&self.pool, id, delay, &error, false).await?;
            }
            Err(error) if error.is_transient() => {
                let delay = self.backoff_after(claimed.attempts + 1);
                tracing::debug!(notification_id = %id, error = %error, retry_in = ?delay, "notification not delivered yet");
                notifications::reschedule(&self.pool, id, delay, &error.to_string(), true).await?;
            }
            Err(error) => {
                tracing::warn!(notification_id = %id, error = %error, "notification refused by the notification service; kept undelivered for an operator");
                notifications::park_refused(&self.pool, id, &error.to_string()).await?;
            }
        }
        Ok(())
    }

    /// The wait after a notification's `failed_attempts`-th failure.
    fn backoff_after(&self, failed_attempts: i32) -> Duration {
        let doublings = u32::try_from(failed_attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay = self
            .settings
            .backoff_min
            .saturating_mul(1 << doublings)
            .min(self.settings.backoff_max);
        // Half fixed, so the spacing between attempts keeps growing; half random, so rows that
        // failed together spread out.
        delay / 2 + (delay / 2).mul_f64(rand::random::<f64>())
    }

    fn publish(&self, backlog: Backlog) {
        metrics::gauge!(UNDELIVERED).set(backlog.undelivered as f64);
        self.status.send_if_modified(|status| {
            let changed =
                status.undelivered != backlog.undelivered || status.refused != backlog.refused;
            if changed {
                status.undelivered = backlog.undelivered;
                status.refused = backlog.refused;
                tracing::info!(
                    undelivered = backlog.undelivered,
                    refused = backlog.refused,
                    "undelivered notifications"
                );
            }
            changed
        });
    }
}

/// Logs the breaker's transitions and keeps the gauge and the status in step with them.
async fn follow_breaker(
    breaker: CircuitBreaker,
    mut transitions: broadcast::Receiver<Transition>,
    status: watch::Sender<DeliveryStatus>,
) {
    record_breaker_state(breaker.state(), &status);
    loop {
        match transitions.recv().await {
            Ok(Transition { from, to }) => {
                match to {
                    BreakerState::Open => {
                        tracing::warn!(%from, %to, "notification service considered down; calls paused");
                    }
                    BreakerState::HalfOpen => {
                        tracing::info!(%from, %to, "trying the notification service again");
                    }
                    BreakerState::Closed => {
                        tracing::info!(%from, %to, "notification service is back");
                    }
                }
                record_breaker_state(to, &status);
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                record_breaker_state(breaker.state(), &status);
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

fn record_breaker_state(state: BreakerState, status: &watch::Sender<DeliveryStatus>) {
    metrics::gauge!(BREAKER_STATE).set(state.gauge_value());
    status.send_if_modified(|status| {
        let changed = status.breaker != state;
        status.breaker = state;
        changed
    });
}

/// Turns `NOTIFY notifications` into wake-ups. Each time it starts listening it wakes the worker
/// once, since what was queued before (at start, or while the connection was lost) sent no
/// notification it heard.
async fn forward_notifications(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match listen(&pool).await {
            Ok(mut listener) => {
                wake.notify_one();
                loop {
                    match listener.try_recv().await {
                        // `None`: the connection was lost; the next call listens again.
                        Ok(_) => wake.notify_one(),
                        Err(error) => {
                            tracing::debug!(%error, "notification listener failed");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot listen for queued notifications");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(pool: &PgPool) -> anyhow::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

/// Waits after failed rounds (the database away): growing, up to `longest`.
fn database_backoff(longest: Duration) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(longest)
        .with_jitter()
        .without_max_times()
        .build()
}
