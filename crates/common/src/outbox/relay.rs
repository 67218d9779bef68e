//! The relay: publishes committed outbox rows to RabbitMQ in commit order, with confirms.
//!
//! - **One relay at a time.** Every replica runs a relay, but only the one holding a PostgreSQL
//!   advisory lock publishes. The lock lives on the relay's own connection, and every statement
//!   of the leader runs on that connection: if it breaks, the lock is gone and the leader stops
//!   before anyone else can start. A standby tries for the lock every `leader_retry`, so it
//!   takes over within about that long when the leader dies.
//! - **Commit order without gaps.** Rows carry the id of the transaction that wrote them. A row
//!   is published only once every transaction below its own has finished (the snapshot's
//!   `xmin`), so a transaction that commits late can never have a row that sorts before one
//!   already published. Rows are published in (transaction, id) order and the position
//!   published up to is kept in `outbox_relay`. An application's transactions write their row
//!   change before anything else, and a version is written only after the previous one
//!   committed, so a later version always has a later transaction id: each application's
//!   events leave in commit order.
//! - **Confirms.** Publishes are `mandatory` on a confirm channel and pipelined: a batch is sent,
//!   then its confirms are awaited in order. An Ack carrying a returned (unroutable) message, a
//!   Nack, an error or a timeout is a failure: the position advances only over the confirmed
//!   prefix, and the next attempt republishes from the first unconfirmed row, after a backoff.
//!   Consumers drop duplicates by `message_id`.
//! - **Waking.** A statement trigger sends `NOTIFY outbox` on commit; the relay sleeps until
//!   then (or, as a safety net, `idle_check`). An idle system makes no busy queries.
//! - **Reconnecting.** lapin's own recovery gives up after a bounded number of attempts, so the
//!   relay opens a fresh connection itself, with backoff, for as long as it runs.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::{
    Channel, Confirmation, Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use sqlx::{Connection as _, PgConnection, PgPool, postgres::PgListener};
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
    time::{Instant, timeout},
};
use tokio_util::sync::CancellationToken;

use super::store::{self, PendingRow, Position};
use crate::{
    amqp::{self, AmqpSettings},
    database::DatabaseSettings,
};

/// How the relay runs; `RelaySettings::new` has the defaults.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    pub amqp: AmqpSettings,
    /// The publishing service, written into every message's `app_id`.
    pub app_id: String,
    /// Rows read and published per round.
    pub batch_size: i64,
    /// How long a published row is kept before it is pruned.
    pub retention: Duration,
    /// How long a confirm may take before the publish counts as failed.
    pub confirm_timeout: Duration,
    /// How often a standby asks for the lock.
    pub leader_retry: Duration,
    /// Longest sleep without a notification, as a safety net.
    pub idle_check: Duration,
    /// Backoff between failed attempts grows up to this.
    pub max_backoff: Duration,
    /// Routing keys of messages nobody has to receive (report progress, which browsers get
    /// from the event log): published without `mandatory`, so while no queue is bound to them
    /// the broker drops them instead of returning them, and the relay goes on past them.
    /// Every other message must reach a queue or is tried again.
    pub optional_routing_keys: Vec<String>,
}

impl RelaySettings {
    pub fn new(amqp: AmqpSettings, app_id: impl Into<String>) -> Self {
        Self {
            amqp,
            app_id: app_id.into(),
            batch_size: 1_000,
            retention: Duration::from_secs(7 * 24 * 3600),
            confirm_timeout: Duration::from_secs(15),
            leader_retry: Duration::from_secs(1),
            idle_check: Duration::from_secs(30),
            max_backoff: Duration::from_secs(10),
            optional_routing_keys: Vec::new(),
        }
    }
}

/// What a relay has done so far (for `/metrics`, readiness and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Holds the lock: this replica's relay is the one publishing.
    pub leading: bool,
    /// Has a confirm channel open to the broker.
    pub connected: bool,
    /// Messages confirmed by the broker.
    pub published: u64,
    /// Failed attempts: unroutable, nacked, timed out, or the connection lost.
    pub failures: u64,
    /// Published rows deleted after the retention.
    pub pruned: u64,
}

/// The advisory lock key of the relay: one relay per database.
const RELAY_LOCK_KEY: i64 = 0x6f75_7462_6f78; // "outbox"
/// How long a row waits behind a transaction still running before the relay looks again.
const HORIZON_RECHECK: Duration = Duration::from_millis(2);
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// A relay over one service's database.
pub struct Relay {
    database: DatabaseSettings,
    pool: PgPool,
    settings: RelaySettings,
    stats: watch::Sender<RelayStats>,
}

/// A running relay: its statistics, and the task to wait for after shutdown.
pub struct RelayHandle {
    pub stats: watch::Receiver<RelayStats>,
    pub task: JoinHandle<()>,
}

enum Round {
    /// Everything committed is out; sleep until notified.
    Drained,
    /// A full batch went out; there may be more.
    MoreReady,
    /// Rows wait for an older transaction to finish.
    WaitingForHorizon,
}

enum Failure {
    /// The database connection (and with it the lock) is in doubt: stop leading.
    Database(anyhow::Error),
    /// The broker connection is in doubt: open a new one.
    Broker(anyhow::Error),
    /// The broker refused a message (returned or nacked): try again later on the same channel.
    Refused(String),
}

impl Relay {
    /// `pool` serves the listener for notifications; the leader's statements run on a
    /// connection of its own opened from `database`.
    pub fn new(database: DatabaseSettings, pool: PgPool, settings: RelaySettings) -> Self {
        Self {
            database,
            pool,
            settings,
            stats: watch::channel(RelayStats::default()).0,
        }
    }

    /// What the relay has done so far, updated as it goes.
    pub fn subscribe(&self) -> watch::Receiver<RelayStats> {
        self.stats.subscribe()
    }

    pub fn spawn(self, shutdown: CancellationToken) -> RelayHandle {
        let stats = self.stats.subscribe();
        let task = tokio::spawn(self.run(shutdown));
        RelayHandle { stats, task }
    }

    async fn run(self, shutdown: CancellationToken) {
        let mut backoff = self.backoff();
        while !shutdown.is_cancelled() {
            match self.lead(&shutdown).await {
                Ok(()) => break,
                Err(error) => {
                    self.stats.send_modify(|stats| {
                        stats.leading = false;
                        stats.connected = false;
                    });
                    let delay = backoff.next().unwrap_or(self.settings.max_backoff);
                    tracing::warn!(error = %format!("{error:#}"), retry_in = ?delay, "outbox relay stopped leading");
                    if sleep_or_stop(delay, &shutdown).await {
                        break;
                    }
                }
            }
        }
        self.stats.send_modify(|stats| {
            stats.leading = false;
            stats.connected = false;
        });
        tracing::debug!("outbox relay stopped");
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(self.settings.max_backoff)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// Waits for the lock, then publishes until shutdown (`Ok`) or a database failure (`Err`).
    async fn lead(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut database = PgConnection::connect_with(&self.database.connect_options()?)
            .await
            .context("cannot connect to PostgreSQL")?;
        loop {
            let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LOCK_KEY)
                .fetch_one(&mut database)
                .await?;
            if acquired {
                break;
            }
            if sleep_or_stop(self.settings.leader_retry, shutdown).await {
                return Ok(());
            }
        }
        tracing::info!(app_id = %self.settings.app_id, "outbox relay leading");
        self.stats.send_modify(|stats| stats.leading = true);
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(forward_notifications(self.pool.clone(), wake.clone()));
        let outcome = self
            .publish_while_leading(&mut database, &wake, shutdown)
            .await;
        listener.abort();
        database.close().await.ok();
        outcome
    }

    async fn publish_while_leading(
        &self,
        database: &mut PgConnection,
        wake: &Notify,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut published = store::published_position(database).await?;
        let mut broker: Option<(Connection, Channel)> = None;
        let mut backoff = self.backoff();
        let mut next_prune = Instant::now();
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let channel = match &broker {
                Some((_, channel)) => channel.clone(),
                None => match self.open_channel().await {
                    Ok((connection, channel)) => {
                        broker = Some((connection, channel.clone()));
                        self.stats.send_modify(|stats| stats.connected = true);
                        tracing::info!("outbox relay connected to rabbitmq");
                        channel
                    }
                    Err(error) => {
                        self.record_failure(database, published).await?;
                        let delay = backoff.next().unwrap_or(self.settings.max_backoff);
                        tracing::warn!(error = %format!("{error:#}"), retry_in = ?delay, "outbox relay cannot reach rabbitmq");
                        if sleep_or_stop(delay, shutdown).await {
                            return Ok(());
                        }
                        continue;
                    }
                },
            };
            if Instant::now() >= next_prune {
                let pruned = store::prune(database, published, self.settings.retention).await?;
                if pruned > 0 {
                    tracing::info!(pruned, "published outbox rows pruned");
                    self.stats.send_modify(|stats| stats.pruned += pruned);
                }
                next_prune = Instant::now() + PRUNE_INTERVAL;
            }
            let wait = match self.round(database, &channel, &mut published).await {
                Ok(Round::MoreReady) => continue,
                Ok(Round::Drained) => {
                    record_backlog(&self.settings.app_id, 0, None);
                    backoff = self.backoff();
                    self.settings.idle_check
                }
                Ok(Round::WaitingForHorizon) => {
                    backoff = self.backoff();
                    HORIZON_RECHECK
                }
                Err(Failure::Database(error)) => return Err(error),
                Err(Failure::Broker(error)) => {
                    tracing::warn!(error = %format!("{error:#}"), "outbox relay lost its rabbitmq channel");
                    if let Some((connection, _)) = broker.take() {
                        connection.close(0, "reconnecting".into()).await.ok();
                    }
                    self.stats.send_modify(|stats| stats.connected = false);
                    self.record_failure(database, published).await?;
                    backoff.next().unwrap_or(self.settings.max_backoff)
                }
                Err(Failure::Refused(reason)) => {
                    tracing::warn!(%reason, "rabbitmq refused an outbox message; it will be published again");
                    self.record_failure(database, published).await?;
                    backoff.next().unwrap_or(self.settings.max_backoff)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn open_channel(&self) -> anyhow::Result<(Connection, Channel)> {
        let name = format!("{} outbox relay", self.settings.app_id);
        let connection = amqp::connect(&self.settings.amqp, &name).await?;
        let channel = connection.create_channel().await?;
        amqp::declare_topology(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .context("cannot enable publisher confirms")?;
        Ok((connection, channel))
    }

    /// Publishes the next batch of committed rows and records how far it got.
    async fn round(
        &self,
        database: &mut PgConnection,
        channel: &Channel,
        published: &mut Position,
    ) -> Result<Round, Failure> {
        let rows = store::pending(database, *published, self.settings.batch_size)
            .await
            .map_err(Failure::Database)?;
        let Some(horizon) = rows.first().map(|row| row.horizon) else {
            return Ok(Round::Drained);
        };
        let fetched = rows.len();
        let ready: Vec<PendingRow> = rows
            .into_iter()
            .take_while(|row| row.transaction < horizon)
            .collect();
        let waiting = ready.len() < fetched;
        let (confirmed, failure) = self.publish(channel, ready).await;
        if let Some(position) = confirmed.last() {
            store::record_published(database, *position)
                .await
                .map_err(Failure::Database)?;
            *published = *position;
            let count = confirmed.len() as u64;
            self.stats.send_modify(|stats| stats.published += count);
            metrics::counter!("zayavki_relay_published_total", "service" => self.settings.app_id.clone())
                .increment(count);
        }
        match failure {
            Some(failure) => Err(failure),
            None if waiting => Ok(Round::WaitingForHorizon),
            None if fetched as i64 == self.settings.batch_size => Ok(Round::MoreReady),
            None => Ok(Round::Drained),
        }
    }

    /// Sends every row, then awaits the confirms in order; returns the positions of the
    /// confirmed prefix and the first failure.
    async fn publish(
        &self,
        channel: &Channel,
        rows: Vec<PendingRow>,
    ) -> (Vec<Position>, Option<Failure>) {
        let mut sent = Vec::with_capacity(rows.len());
        let mut failure = None;
        for row in rows {
            let position = row.position();
            let message = row.message;
            let properties = amqp::properties(&message, &self.settings.app_id);
            let options = BasicPublishOptions {
                mandatory: !self
                    .settings
                    .optional_routing_keys
                    .contains(&message.routing_key),
                ..BasicPublishOptions::default()
            };
            match channel
                .basic_publish(
                    ShortString::from(message.exchange),
                    ShortString::from(message.routing_key),
                    options,
                    message.body.as_bytes(),
                    properties,
                )
                .await
            {
                Ok(confirm) => sent.push((position, confirm)),
                Err(error) => {
                    failure = Some(Failure::Broker(error.into()));
                    break;
                }
            }
        }
        let mut confirmed = Vec::with_capacity(sent.len());
        for (position, confirm) in sent {
            let outcome = match timeout(self.settings.confirm_timeout, confirm).await {
                Ok(Ok(Confirmation::Ack(None))) => None,
                Ok(Ok(Confirmation::Ack(Some(returned)))) => Some(Failure::Refused(format!(
                    "returned as unroutable: {} {}",
                    returned.reply_code, returned.reply_text
                ))),
                Ok(Ok(Confirmation::Nack(_))) => {
                    Some(Failure::Refused("negatively acknowledged".to_owned()))
                }
                Ok(Ok(Confirmation::NotRequested)) => Some(Failure::Broker(anyhow::anyhow!(
                    "the channel does not confirm publishes"
                ))),
                Ok(Err(error)) => Some(Failure::Broker(error.into())),
                Err(_) => Some(Failure::Broker(anyhow::anyhow!(
                    "no confirm within {:?}",
                    self.settings.confirm_timeout
                ))),
            };
            match outcome {
                None => confirmed.push(position),
                Some(first_failure) => {
                    failure = Some(first_failure);
                    break;
                }
            }
        }
        (confirmed, failure)
    }

    /// Counts a failed attempt and reports what waits.
    async fn record_failure(
        &self,
        database: &mut PgConnection,
        published: Position,
    ) -> anyhow::Result<()> {
        self.stats.send_modify(|stats| stats.failures += 1);
        metrics::counter!("zayavki_relay_failures_total", "service" => self.settings.app_id.clone())
            .increment(1);
        let (waiting, oldest) = store::backlog(database, published).await?;
        record_backlog(&self.settings.app_id, waiting, oldest);
        Ok(())
    }
}

fn record_backlog(app_id: &str, waiting: i64, oldest: Option<chrono::DateTime<chrono::Utc>>) {
    metrics::gauge!("zayavki_outbox_backlog", "service" => app_id.to_owned()).set(waiting as f64);
    let age = oldest.map_or(0.0, |at| {
        (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
    });
    metrics::gauge!("zayavki_outbox_oldest_age_seconds", "service" => app_id.to_owned()).set(age);
}

/// Turns every `NOTIFY outbox` (and every reconnect of the listener, after which a notification
/// may have been missed) into a wake-up of the relay. Runs until aborted.
async fn forward_notifications(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match listen(&pool).await {
            Ok(mut listener) => loop {
                match listener.try_recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(error) => {
                        tracing::debug!(%error, "outbox notification listener failed");
                        break;
                    }
                }
            },
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "outbox relay cannot listen for notifications");
            }
        }
        wake.notify_one();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(pool: &PgPool) -> anyhow::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(store::NOTIFY_CHANNEL).await?;
    Ok(listener)
}

/// Sleeps for `delay`; true when shutdown came first.
async fn sleep_or_stop(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(delay) => false,
    }
}
