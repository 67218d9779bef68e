//! Every replica prunes the log: rows older than the retention go, oldest first, a batch at a
//! time. Running it on several replicas at once is harmless (a row is deleted once).

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{EventLogSettings, store};

const PRUNE_BATCH: i64 = 1_000;

/// Prunes now and then every `settings.prune_interval`, until `shutdown`.
pub async fn run_pruning(pool: PgPool, settings: EventLogSettings, shutdown: CancellationToken) {
    loop {
        match prune(&pool, &settings).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old events pruned from the event log"),
            Err(error) => tracing::warn!(%error, "cannot prune the event log"),
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(settings.prune_interval) => {}
        }
    }
}

/// Deletes every row older than the retention (as long as only older ones precede it).
pub async fn prune(pool: &PgPool, settings: &EventLogSettings) -> sqlx::Result<u64> {
    let mut pruned = 0;
    loop {
        let deleted = store::prune_prefix(pool, settings.retention, PRUNE_BATCH).await?;
        pruned += deleted;
        if deleted < PRUNE_BATCH as u64 {
            return Ok(pruned);
        }
    }
}
