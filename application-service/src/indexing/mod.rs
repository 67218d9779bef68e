//! Keeps the tantivy search index in step with PostgreSQL.
//!
//! Every write stamps its row with the writing transaction's id (`change_xid`). The index
//! remembers, in its commit payload, a watermark: every transaction below it is indexed. Catching
//! up reads the rows whose `change_xid` lies between the watermark and the oldest transaction
//! still running (`pg_snapshot_xmin`), so a transaction that commits late is never skipped. The
//! same query rebuilds a deleted index from zero, and runs at start-up and on a short timer
//! (writes by other replicas).
//!
//! Writes made by this replica do not wait for that horizon: the use cases announce what they
//! changed, and the same loop indexes it at once: filed applications straight from the values
//! stored (their transaction is not yet behind the watermark, so catching up still reads them
//! and corrects any later change), status changes by re-reading the rows. Under a stream of
//! writes, announcements are gathered into one commit at most every
//! `ANNOUNCED_COMMIT_SPACING`. Everything runs one step after the other in one task.

mod catch_up;
mod open;

use std::{path::Path, time::Duration};

use sqlx::PgPool;
use tokio::time::Instant;
use zayavki_common::shutdown::CancellationToken;
use zayavki_search::SearchIndex;

use crate::service::ChangeReceiver;

pub use catch_up::{IndexedVersions, catch_up, index_changes};
pub use open::open_or_rebuild;

/// How often the index looks for writes it was not told about (other replicas).
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The least time between two commits of announced writes. A commit costs about as much as
/// indexing a few thousand applications, so under a stream of writes whatever arrives in
/// between is gathered into one commit; a lone write is indexed at once.
const ANNOUNCED_COMMIT_SPACING: Duration = Duration::from_millis(200);
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// Indexes this replica's writes as they are announced, and catches up with everything else on
/// a timer and once at start.
pub async fn run_sync(
    pool: PgPool,
    index: SearchIndex,
    mut changes: Option<ChangeReceiver>,
    shutdown: CancellationToken,
) {
    let mut indexed_versions = IndexedVersions::new();
    let mut next_catch_up = Instant::now();
    let mut next_announced_commit = Instant::now();
    loop {
        if Instant::now() >= next_catch_up {
            match catch_up(&pool, &index, &mut indexed_versions).await {
                Ok(0) => {}
                Ok(indexed) => tracing::debug!(indexed, "search index caught up"),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "search index catch-up failed");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(RETRY_AFTER_FAILURE) => continue,
                    }
                }
            }
            next_catch_up = Instant::now() + POLL_INTERVAL;
        }
        let announced = async {
            match changes.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(next_catch_up) => {}
            announced = announced => match announced {
                Some(change) => {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep_until(next_announced_commit) => {}
                    }
                    let mut gathered = vec![change];
                    if let Some(receiver) = changes.as_mut() {
                        while let Ok(more) = receiver.try_recv() {
                            gathered.push(more);
                        }
                    }
                    if let Err(error) = index_changes(&pool, &index, gathered, &mut indexed_versions).await {
                        tracing::warn!(error = format!("{error:#}"), "indexing announced changes failed");
                    }
                    next_announced_commit = Instant::now() + ANNOUNCED_COMMIT_SPACING;
                }
                // Every sender is gone; the timer keeps the index in step.
                None => changes = None,
            },
        }
    }
}

/// How long `reindex` waits for transactions that were running when it started.
const REINDEX_WAIT_LIMIT: Duration = Duration::from_secs(120);

/// Clears the index at `directory` and rebuilds it from PostgreSQL; the `reindex` command.
/// Everything committed before it started is indexed when it returns.
pub async fn reindex(pool: &PgPool, directory: &Path) -> anyhow::Result<u64> {
    let index = open_or_rebuild(directory)?;
    let cleared = index.clone();
    tokio::task::spawn_blocking(move || cleared.clear()).await??;
    // The first transaction id not yet assigned when the rebuild began.
    let target: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
    let target = u64::try_from(target)?;
    let started = std::time::Instant::now();
    loop {
        catch_up(pool, &index, &mut IndexedVersions::new()).await?;
        if index
            .watermark()
            .is_some_and(|watermark| watermark >= target)
        {
            return Ok(index.document_count());
        }
        anyhow::ensure!(
            started.elapsed() < REINDEX_WAIT_LIMIT,
            "a transaction older than the rebuild is still running; try again when it ends"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
