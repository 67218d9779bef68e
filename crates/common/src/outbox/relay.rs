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
//! - **Confirms.** Publishes are `mandatory` on a confirm channel and pipelined: rows are sent as
//!   soon as they are committed, up to two batches ahead of the confirms, which are taken in
//!   order as they come. An Ack carrying a returned (unroutable) message, a Nack, an error or a
//!   timeout is a failure: the position advances only over the confirmed prefix, and the next
//!   attempt republishes from the first unconfirmed row, after a backoff. Consumers drop
//!   duplicates by `message_id`.
//! - **Waking.** A statement trigger sends `NOTIFY outbox` on commit; the relay sleeps until
//!   then (or, as a safety net, `idle_check`). An idle system makes no busy queries.
//! - **Reconnecting.** lapin's own recovery gives up after a bounded number of attempts, so the
//!   relay opens a fresh connection itself, with backoff, for as long as it runs.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::FutureExt as _;
use lapin::{
    Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use sqlx::{Connection as _, PgConnection, PgPool, postgres::PgListener};
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::store::{self, Position};
use crate::{
    amqp::{self, AmqpSettings, OutgoingMessage},
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
    /// How long a confirm may take before the publish counts as failed; also the longest the
    /// broker may take to open a connection, or to close one after a failure.
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
    /// Everything committed is sent; read again when notified.
    Drained,
    /// A full batch went out; there may be more.
    MoreReady,
    /// Rows wait for an older transaction to finish.
    WaitingForHorizon,
}

/// Why `pump` returned without a failure.
enum Pumped {
    Stopped,
    /// Nothing is in flight and published rows are due to be pruned.
    PruneDue,
}

/// Messages sent and not yet confirmed, oldest first. `C` is the confirm of one publish
/// (lapin's, or a stand-in in the tests).
struct Pipeline<C = PublisherConfirm> {
    /// Every row up to here is confirmed.
    published: Position,
    /// Every row up to here is sent.
    sent: Position,
    in_flight: VecDeque<InFlight<C>>,
    /// Confirmed since the position was last written.
    unrecorded: u64,
}

struct InFlight<C = PublisherConfirm> {
    position: Position,
    confirm: C,
    /// The confirm must come by then, or the publish counts as failed.
    deadline: Instant,
}

impl<C: Future<Output = lapin::Result<Confirmation>> + Unpin> Pipeline<C> {
    fn new(published: Position) -> Self {
        Self {
            published,
            sent: published,
            in_flight: VecDeque::new(),
            unrecorded: 0,
        }
    }

    /// Takes the front's outcome and every further confirm already in; returns how many were
    /// confirmed and the first failure, which the caller reports after recording the prefix
    /// before it.
    fn settle(&mut self, front: Result<(), Failure>) -> (u64, Result<(), Failure>) {
        let mut confirmed = 0;
        let mut outcome = front;
        loop {
            if let Err(failure) = outcome {
                self.in_flight.clear();
                return (confirmed, Err(failure));
            }
            let Some(settled) = self.in_flight.pop_front() else {
                return (confirmed, Ok(()));
            };
            self.published = settled.position;
            self.unrecorded += 1;
            confirmed += 1;
            let Some(next) = self.in_flight.front_mut() else {
                return (confirmed, Ok(()));
            };
            match (&mut next.confirm).now_or_never() {
                Some(confirmation) => outcome = judge(Ok(confirmation)),
                None => return (confirmed, Ok(())),
            }
        }
    }
}

/// Writes the confirmed prefix as published.
async fn record_position(
    database: &mut PgConnection,
    pipeline: &mut Pipeline,
) -> Result<(), Failure> {
    if pipeline.unrecorded == 0 {
        return Ok(());
    }
    store::record_published(database, pipeline.published)
        .await
        .map_err(Failure::Database)?;
    pipeline.unrecorded = 0;
    Ok(())
}

/// The outcome of the oldest unconfirmed publish, by its deadline; pending forever when
/// nothing is in flight.
async fn confirmation(front: Option<&mut InFlight>) -> Result<(), Failure> {
    let Some(front) = front else {
        return std::future::pending().await;
    };
    let deadline = front.deadline;
    judge(tokio::time::timeout_at(deadline, &mut front.confirm).await)
}

fn judge(
    outcome: Result<lapin::Result<Confirmation>, tokio::time::error::Elapsed>,
) -> Result<(), Failure> {
    match outcome {
        Ok(Ok(Confirmation::Ack(None))) => Ok(()),
        Ok(Ok(Confirmation::Ack(Some(returned)))) => Err(Failure::Refused(format!(
            "returned as unroutable: {} {}",
            returned.reply_code, returned.reply_text
        ))),
        Ok(Ok(Confirmation::Nack(_))) => {
            Err(Failure::Refused("negatively acknowledged".to_owned()))
        }
        Ok(Ok(Confirmation::NotRequested)) => Err(Failure::Broker(anyhow::anyhow!(
            "the channel does not confirm publishes"
        ))),
        Ok(Err(error)) => Err(Failure::Broker(error.into())),
        Err(_) => Err(Failure::Broker(anyhow::anyhow!("no confirm in time"))),
    }
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
            let mut pipeline = Pipeline::new(published);
            let outcome = self
                .pump(
                    database,
                    &channel,
                    &mut pipeline,
                    wake,
                    shutdown,
                    next_prune,
                )
                .await;
            published = pipeline.published;
            let wait = match outcome {
                Ok(Pumped::Stopped) => return Ok(()),
                Ok(Pumped::PruneDue) => continue,
                Err(Failure::Database(error)) => return Err(error),
                Err(Failure::Broker(error)) => {
                    tracing::warn!(error = %format!("{error:#}"), "outbox relay lost its rabbitmq channel");
                    if let Some((connection, _)) = broker.take() {
                        // A connection that broke mid-way may never answer the close: the
                        // relay does not wait for it longer than for a confirm.
                        amqp::close_within(
                            &connection,
                            "reconnecting",
                            self.settings.confirm_timeout,
                        )
                        .await;
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
            if sleep_or_stop(wait, shutdown).await {
                return Ok(());
            }
        }
    }

    /// A fresh connection and confirm channel, the topology declared; a broker that accepts the
    /// connection but never answers fails it after the confirm timeout instead of holding the
    /// relay for good.
    async fn open_channel(&self) -> anyhow::Result<(Connection, Channel)> {
        let name = format!("{} outbox relay", self.settings.app_id);
        let open = async {
            let connection = amqp::connect(&self.settings.amqp, &name).await?;
            let channel = connection.create_channel().await?;
            amqp::declare_topology(&channel).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .context("cannot enable publisher confirms")?;
            anyhow::Ok((connection, channel))
        };
        tokio::time::timeout(self.settings.confirm_timeout, open)
            .await
            .map_err(|_| anyhow::anyhow!("rabbitmq did not answer the connection in time"))?
    }

    /// Publishes on `channel` until shutdown, until a prune is due, or until the first failure.
    ///
    /// Reading and confirming overlap: rows committed while earlier ones await their confirms
    /// are read and sent at once, up to `2 × batch_size` unconfirmed messages, so a row's way
    /// out does not wait for the round trip of the batch before it. The position advances over
    /// the confirmed prefix only.
    async fn pump(
        &self,
        database: &mut PgConnection,
        channel: &Channel,
        pipeline: &mut Pipeline,
        wake: &Notify,
        shutdown: &CancellationToken,
        prune_at: Instant,
    ) -> Result<Pumped, Failure> {
        let window = usize::try_from(self.settings.batch_size.max(1) * 2).unwrap_or(usize::MAX);
        // When to read the outbox again: now, after a pause for the horizon, or on a wake-up.
        let mut read_at = Some(Instant::now());
        loop {
            let room = window.saturating_sub(pipeline.in_flight.len());
            if room > 0 && read_at.is_some_and(|at| at <= Instant::now()) {
                read_at = match self.send_next(database, channel, pipeline, room).await? {
                    Round::MoreReady => Some(Instant::now()),
                    Round::WaitingForHorizon => Some(Instant::now() + HORIZON_RECHECK),
                    Round::Drained => {
                        if pipeline.in_flight.is_empty() {
                            record_backlog(&self.settings.app_id, 0, None);
                        }
                        None
                    }
                };
                if read_at.is_some_and(|at| at <= Instant::now()) {
                    continue;
                }
            }
            if Instant::now() >= prune_at && pipeline.in_flight.is_empty() {
                return Ok(Pumped::PruneDue);
            }
            let pause_until = match read_at {
                Some(at) if room > 0 => at,
                _ => Instant::now() + self.settings.idle_check,
            };
            let front = pipeline.in_flight.front_mut();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    record_position(database, pipeline).await?;
                    return Ok(Pumped::Stopped);
                }
                outcome = confirmation(front) => {
                    let (confirmed, outcome) = pipeline.settle(outcome);
                    self.count_published(confirmed);
                    // The position is only where a new leader starts again: it is written
                    // once a batch is confirmed, when nothing is in flight, and on a failure.
                    if outcome.is_err()
                        || pipeline.in_flight.is_empty()
                        || pipeline.unrecorded >= self.settings.batch_size.unsigned_abs()
                    {
                        record_position(database, pipeline).await?;
                    }
                    outcome?;
                }
                () = wake.notified() => read_at = Some(Instant::now()),
                () = tokio::time::sleep_until(pause_until) => read_at = Some(Instant::now()),
            }
        }
    }

    /// Reads up to `room` committed rows after the last one sent and sends those whose
    /// transactions are below the horizon.
    async fn send_next(
        &self,
        database: &mut PgConnection,
        channel: &Channel,
        pipeline: &mut Pipeline,
        room: usize,
    ) -> Result<Round, Failure> {
        let limit = self
            .settings
            .batch_size
            .min(i64::try_from(room).unwrap_or(i64::MAX));
        let rows = store::pending(database, pipeline.sent, limit)
            .await
            .map_err(Failure::Database)?;
        let Some(horizon) = rows.first().map(|row| row.horizon) else {
            return Ok(Round::Drained);
        };
        let fetched = rows.len();
        let mut ready = 0;
        for row in rows.into_iter().take_while(|row| row.transaction < horizon) {
            ready += 1;
            let position = row.position();
            // A publish not even handed to the connection in time counts as failed too.
            let confirm = tokio::time::timeout(
                self.settings.confirm_timeout,
                self.send(channel, row.message),
            )
            .await
            .map_err(|_| Failure::Broker(anyhow::anyhow!("a publish was not sent in time")))?
            .map_err(|error| Failure::Broker(error.into()))?;
            pipeline.sent = position;
            pipeline.in_flight.push_back(InFlight {
                position,
                confirm,
                deadline: Instant::now() + self.settings.confirm_timeout,
            });
        }
        Ok(if ready < fetched {
            Round::WaitingForHorizon
        } else if fetched as i64 == limit {
            Round::MoreReady
        } else {
            Round::Drained
        })
    }

    async fn send(
        &self,
        channel: &Channel,
        message: OutgoingMessage,
    ) -> lapin::Result<PublisherConfirm> {
        let properties = amqp::properties(&message, &self.settings.app_id);
        let options = BasicPublishOptions {
            mandatory: !self
                .settings
                .optional_routing_keys
                .contains(&message.routing_key),
            ..BasicPublishOptions::default()
        };
        channel
            .basic_publish(
                ShortString::from(message.exchange),
                ShortString::from(message.routing_key),
                options,
                message.body.as_bytes(),
                properties,
            )
            .await
    }

    fn count_published(&self, count: u64) {
        if count == 0 {
            return;
        }
        self.stats.send_modify(|stats| stats.published += count);
        metrics::counter!("zayavki_relay_published_total", "service" => self.settings.app_id.clone())
            .increment(count);
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

#[cfg(test)]
mod tests {
    use futures::future::{BoxFuture, FutureExt as _};

    use super::*;

    /// A confirm that has come in with `confirmation`, or that has not come in yet.
    fn confirm(
        confirmation: Option<Confirmation>,
    ) -> BoxFuture<'static, lapin::Result<Confirmation>> {
        match confirmation {
            Some(confirmation) => std::future::ready(Ok(confirmation)).boxed(),
            None => std::future::pending().boxed(),
        }
    }

    fn at(id: i64) -> Position {
        Position { transaction: 7, id }
    }

    /// Rows 1, 2, … in flight with these confirms, after row 0 was published.
    fn pipeline(
        confirms: Vec<Option<Confirmation>>,
    ) -> Pipeline<BoxFuture<'static, lapin::Result<Confirmation>>> {
        let mut pipeline = Pipeline::new(at(0));
        for (id, confirmation) in (1..).zip(confirms) {
            pipeline.sent = at(id);
            pipeline.in_flight.push_back(InFlight {
                position: at(id),
                confirm: confirm(confirmation),
                deadline: Instant::now() + Duration::from_secs(60),
            });
        }
        pipeline
    }

    fn ack() -> Option<Confirmation> {
        Some(Confirmation::Ack(None))
    }

    fn nack() -> Option<Confirmation> {
        Some(Confirmation::Nack(None))
    }

    #[test]
    fn the_front_and_every_confirm_already_in_behind_it_are_settled_up_to_the_first_still_out() {
        let mut pipeline = pipeline(vec![ack(), ack(), ack(), None, ack()]);

        let (confirmed, outcome) = pipeline.settle(Ok(()));

        assert!(outcome.is_ok());
        assert_eq!(confirmed, 3, "rows 1 to 3; row 4 is still out");
        assert_eq!(pipeline.published, at(3));
        assert_eq!(pipeline.unrecorded, 3);
        let waiting: Vec<Position> = pipeline.in_flight.iter().map(|row| row.position).collect();
        assert_eq!(
            waiting,
            [at(4), at(5)],
            "a confirm behind one still out waits its turn"
        );
    }

    #[test]
    fn a_refusal_behind_the_front_keeps_the_prefix_before_it_and_drops_the_rest() {
        let mut pipeline = pipeline(vec![ack(), ack(), nack(), ack()]);

        let (confirmed, outcome) = pipeline.settle(Ok(()));

        assert!(matches!(outcome, Err(Failure::Refused(_))));
        assert_eq!(confirmed, 2);
        assert_eq!(
            pipeline.published,
            at(2),
            "published up to the row before the refusal"
        );
        assert!(
            pipeline.in_flight.is_empty(),
            "everything after the published prefix is sent again"
        );
    }

    #[test]
    fn a_failed_front_settles_nothing() {
        let mut pipeline = pipeline(vec![ack(), ack()]);
        let lost = lapin::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));

        let (confirmed, outcome) = pipeline.settle(judge(Ok(Err(lost))));

        assert!(matches!(outcome, Err(Failure::Broker(_))));
        assert_eq!(confirmed, 0);
        assert_eq!(pipeline.published, at(0));
        assert_eq!(pipeline.unrecorded, 0);
        assert!(pipeline.in_flight.is_empty());
    }

    #[test]
    fn a_nack_and_a_channel_without_confirms_are_failures_only_a_plain_ack_is_not() {
        assert!(judge(Ok(Ok(Confirmation::Ack(None)))).is_ok());
        assert!(matches!(
            judge(Ok(Ok(Confirmation::Nack(None)))),
            Err(Failure::Refused(_))
        ));
        assert!(matches!(
            judge(Ok(Ok(Confirmation::NotRequested))),
            Err(Failure::Broker(_))
        ));
    }
}
