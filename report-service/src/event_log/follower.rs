//! Every replica follows the log into its [`LogFeed`]: it starts at the end of the log, then
//! reads settled rows after the last one it published, woken by `NOTIFY event_log` (sent when
//! rows commit), with a poll as a safety net for a missed notification. While committed rows
//! wait behind a transaction still running, it looks again after a short pause that grows.

use std::{sync::Arc, time::Duration};

use backon::{BackoffBuilder, ExponentialBuilder};
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{Cursor, EventLogSettings, LogFeed, store};

/// The channel the log's trigger notifies when rows commit.
pub const NOTIFY_CHANNEL: &str = "event_log";

const HELD_BACK_FIRST_RECHECK: Duration = Duration::from_millis(5);
const HELD_BACK_LAST_RECHECK: Duration = Duration::from_millis(250);

/// What a follower has done so far (tests wait on it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowerStats {
    /// The position published up to, once the end of the log is known.
    pub position: Option<Cursor>,
    /// Reads of the log completed.
    pub reads: u64,
    /// The last read found committed rows waiting behind a running transaction.
    pub held_back: bool,
}

pub struct Follower {
    pool: PgPool,
    feed: Arc<LogFeed>,
    settings: EventLogSettings,
    stats: watch::Sender<FollowerStats>,
}

impl Follower {
    pub fn new(pool: PgPool, feed: Arc<LogFeed>, settings: EventLogSettings) -> Self {
        Self {
            pool,
            feed,
            settings,
            stats: watch::channel(FollowerStats::default()).0,
        }
    }

    pub fn subscribe_stats(&self) -> watch::Receiver<FollowerStats> {
        self.stats.subscribe()
    }

    /// Follows until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(forward_notifications(self.pool.clone(), wake.clone()));
        if let Some(start) = self.find_end(&shutdown).await {
            self.follow(start, &wake, &shutdown).await;
        }
        listener.abort();
        tracing::debug!("event log follower stopped");
    }

    /// The end of the log as the follower starts, retried until the database answers.
    async fn find_end(&self, shutdown: &CancellationToken) -> Option<Cursor> {
        let mut backoff = self.backoff();
        loop {
            match store::settled_head(&self.pool).await {
                Ok(head) => {
                    self.feed.start_at(head);
                    self.stats.send_modify(|stats| stats.position = Some(head));
                    return Some(head);
                }
                Err(error) => {
                    let delay = backoff.next().unwrap_or(self.settings.max_backoff);
                    tracing::warn!(%error, retry_in = ?delay, "cannot find the end of the event log");
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    async fn follow(&self, mut position: Cursor, wake: &Notify, shutdown: &CancellationToken) {
        let mut failures = self.backoff();
        let mut held_back_recheck = HELD_BACK_FIRST_RECHECK;
        while !shutdown.is_cancelled() {
            let wait =
                match store::settled_after(&self.pool, position, self.settings.batch_size).await {
                    Ok(page) => {
                        failures = self.backoff();
                        if let Some(last) = page.entries.last() {
                            position = last.position;
                        }
                        self.feed.publish(page.entries);
                        self.stats.send_modify(|stats| {
                            stats.position = Some(position);
                            stats.reads += 1;
                            stats.held_back = page.held_back;
                        });
                        if page.full {
                            continue;
                        }
                        if page.held_back {
                            let wait = held_back_recheck;
                            held_back_recheck = (held_back_recheck * 2).min(HELD_BACK_LAST_RECHECK);
                            wait
                        } else {
                            held_back_recheck = HELD_BACK_FIRST_RECHECK;
                            self.settings.poll_interval
                        }
                    }
                    Err(error) => {
                        let delay = failures.next().unwrap_or(self.settings.max_backoff);
                        tracing::warn!(%error, retry_in = ?delay, "cannot read the event log");
                        delay
                    }
                };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(self.settings.max_backoff)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// Turns every `NOTIFY event_log` (and every (re)connection of the listener, after which one
/// may have been missed) into a wake-up. Runs until aborted.
async fn forward_notifications(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match listen(&pool).await {
            Ok(mut listener) => {
                wake.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => wake.notify_one(),
                        // The connection was lost and is reopened: something may have been missed.
                        Ok(None) => wake.notify_one(),
                        Err(error) => {
                            tracing::debug!(%error, "event log listener failed");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for event log notifications");
            }
        }
        wake.notify_one();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use sqlx::PgConnection;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::event_log::{
        LogEntry, Subscription,
        testing::{append_numbered, migrated_database},
    };

    /// Long enough for a loaded machine; the tests end as soon as what they wait for happens.
    const PATIENCE: Duration = Duration::from_secs(30);

    struct Running {
        feed: Arc<LogFeed>,
        stats: watch::Receiver<FollowerStats>,
        shutdown: CancellationToken,
        task: JoinHandle<()>,
    }

    impl Running {
        async fn stop(self) {
            self.shutdown.cancel();
            tokio::time::timeout(PATIENCE, self.task)
                .await
                .expect("the follower stops")
                .expect("the follower ends cleanly");
        }
    }

    fn follow(pool: &PgPool) -> Running {
        let feed = LogFeed::new(10_000);
        let follower = Follower::new(pool.clone(), feed.clone(), EventLogSettings::default());
        let stats = follower.subscribe_stats();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(follower.run(shutdown.clone()));
        Running {
            feed,
            stats,
            shutdown,
            task,
        }
    }

    async fn receive(subscription: &mut Subscription, count: usize) -> Vec<Arc<LogEntry>> {
        let mut received = Vec::with_capacity(count);
        while received.len() < count {
            let entry = tokio::time::timeout(PATIENCE, subscription.entries.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of {count} entries arrived", received.len()))
                .expect("the subscriber keeps up");
            received.push(entry);
        }
        received
    }

    fn numbers(entries: &[Arc<LogEntry>]) -> Vec<u64> {
        entries
            .iter()
            .map(|entry| entry.body["number"].as_u64().expect("a numbered entry"))
            .collect()
    }

    /// The reference: the whole log read in its order once nothing is being written.
    async fn log_in_order(pool: &PgPool) -> Vec<Cursor> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT xid::text::bigint, id FROM event_log ORDER BY xid, id")
                .fetch_all(pool)
                .await
                .expect("the log");
        rows.into_iter()
            .map(|(transaction, id)| Cursor { transaction, id })
            .collect()
    }

    #[tokio::test]
    async fn a_row_that_commits_after_a_later_id_is_neither_skipped_nor_repeated() {
        let database = migrated_database().await;
        let mut running = follow(&database.pool);
        let mut subscription = running.feed.subscribe().await;

        // `early` takes its transaction id first but writes and commits last.
        let mut early = database.pool.begin().await.expect("a transaction");
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&mut *early)
            .await
            .expect("a transaction id");
        let mut autocommit = database.pool.acquire().await.expect("a connection");
        append_numbered(&mut autocommit, "user-1", 1).await;
        running
            .stats
            .wait_for(|stats| stats.held_back)
            .await
            .expect("the follower saw row 1 committed behind a running transaction");
        append_numbered(&mut early, "user-1", 2).await;
        append_numbered(&mut autocommit, "user-1", 3).await;
        early.commit().await.expect("committed");

        let received = receive(&mut subscription, 3).await;
        append_numbered(&mut autocommit, "user-1", 4).await;
        let next = receive(&mut subscription, 1).await;

        assert_eq!(numbers(&received), [2, 1, 3], "(xid, id) order");
        let positions: Vec<Cursor> = received.iter().map(|entry| entry.position).collect();
        assert_eq!(positions, log_in_order(&database.pool).await[..3]);
        assert_eq!(numbers(&next), [4], "nothing repeated before the next row");
        running.stop().await;
    }

    #[tokio::test]
    async fn concurrent_writers_are_followed_exactly_as_the_settled_log_reads() {
        const WRITERS: u32 = 6;
        const TRANSACTIONS: u32 = 12;
        let database = migrated_database().await;
        let running = follow(&database.pool);
        let mut subscription = running.feed.subscribe().await;

        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| tokio::spawn(write_transactions(database.pool.clone(), writer)))
            .collect();
        let mut written = 0;
        for writer in writers {
            written += writer.await.expect("the writer finished");
        }
        let received = receive(&mut subscription, written).await;

        let positions: Vec<Cursor> = received.iter().map(|entry| entry.position).collect();
        assert_eq!(positions, log_in_order(&database.pool).await);
        assert_eq!(written, (WRITERS * TRANSACTIONS * 2) as usize);
        running.stop().await;

        /// Transactions of two rows each; every other one takes its transaction id well before
        /// writing, so ids and transaction ids interleave across writers.
        async fn write_transactions(pool: PgPool, writer: u32) -> usize {
            let mut written = 0;
            for transaction_number in 0..TRANSACTIONS {
                let mut transaction = pool.begin().await.expect("a transaction");
                if transaction_number % 2 == writer % 2 {
                    take_transaction_id_then_pause(&mut transaction).await;
                }
                for row in 0..2 {
                    let number = writer * 1_000 + transaction_number * 10 + row;
                    append_numbered(&mut transaction, "user-1", number).await;
                }
                transaction.commit().await.expect("committed");
                written += 2;
            }
            written
        }

        async fn take_transaction_id_then_pause(connection: &mut PgConnection) {
            sqlx::query("SELECT pg_current_xact_id(), pg_sleep(random() * 0.01)")
                .execute(connection)
                .await
                .expect("a transaction id");
        }
    }
}
