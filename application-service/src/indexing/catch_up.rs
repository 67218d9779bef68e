//! Reading changed rows from PostgreSQL into the index, in chunks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, types::Json};
use tokio::task::JoinHandle;
use uuid::Uuid;
use zayavki_search::{ApplicationDocument, SearchIndex};

use crate::domain::item::StoredItem;

/// Rows read and indexed per round trip.
const CHUNK_ROWS: i64 = 20_000;

#[derive(sqlx::FromRow)]
struct ChangedRow {
    id: Uuid,
    applicant: String,
    title: String,
    description: Option<String>,
    items: Json<Vec<StoredItem>>,
    status: String,
    applied_at: DateTime<Utc>,
    version: i64,
    change_xid: i64,
}

/// Versions this replica already indexed from announced ids, so catching up does not index the
/// same row again: re-adding an unchanged document would shift scores under a reader paging
/// through results. Catching up forgets each entry when it reaches that row.
pub type IndexedVersions = HashMap<Uuid, i64>;

impl From<ChangedRow> for ApplicationDocument {
    fn from(row: ChangedRow) -> Self {
        ApplicationDocument {
            id: row.id,
            applicant: row.applicant,
            title: row.title,
            description: row.description,
            item_names: row.items.0.into_iter().map(|item| item.name).collect(),
            status: row.status,
            applied_at: row.applied_at,
        }
    }
}

/// Indexes every row written by a finished transaction the index has not seen; returns how
/// many rows were indexed.
#[tracing::instrument(skip_all)]
pub async fn catch_up(
    pool: &PgPool,
    index: &SearchIndex,
    already_indexed: &mut IndexedVersions,
) -> anyhow::Result<usize> {
    let start = index.watermark().unwrap_or(0);
    // Every transaction below this one has finished: its rows are final and visible.
    let horizon: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
    let horizon = u64::try_from(horizon)?;
    if horizon <= start {
        return Ok(0);
    }
    let mut indexed = 0;
    let mut after: Option<(i64, Uuid)> = None;
    // The previous chunk is indexed on a blocking thread while the next one is read, so
    // PostgreSQL and the indexer work at the same time; commits still happen in order.
    let mut indexing: Option<JoinHandle<anyhow::Result<()>>> = None;
    loop {
        // The order names the table's columns: the bare `change_xid` would be the bigint
        // output column, which no index provides, and every chunk would sort all remaining rows.
        let fetched: Result<Vec<ChangedRow>, sqlx::Error> = sqlx::query_as(
            "SELECT id, applicant, title, description, items, status, applied_at, version, change_xid::text::bigint AS change_xid \
             FROM applications \
             WHERE change_xid >= $1::bigint::text::xid8 AND change_xid < $2::bigint::text::xid8 \
               AND ($3::bigint IS NULL OR (change_xid, id) > ($3::bigint::text::xid8, $4::uuid)) \
             ORDER BY applications.change_xid, applications.id LIMIT $5",
        )
        .bind(i64::try_from(start)?)
        .bind(i64::try_from(horizon)?)
        .bind(after.map(|(xid, _)| xid))
        .bind(after.map(|(_, id)| id))
        .bind(CHUNK_ROWS)
        .fetch_all(pool)
        .await;
        // Whatever the read gave, the previous chunk is committed (or has failed) first.
        if let Some(previous) = indexing.take() {
            previous.await??;
        }
        let rows = fetched?;
        let last_chunk = (rows.len() as i64) < CHUNK_ROWS;
        after = rows.last().map(|row| (row.change_xid, row.id)).or(after);
        indexed += rows.len();
        let documents: Vec<ApplicationDocument> = rows
            .into_iter()
            .filter(|row| already_indexed.remove(&row.id) != Some(row.version))
            .map(ApplicationDocument::from)
            .collect();
        // Mid-way, rows of the last transaction seen may continue in the next chunk, so only
        // the start of that transaction is safe to record; at the end, the horizon is.
        let watermark = if last_chunk {
            horizon
        } else {
            after.map_or(start, |(xid, _)| u64::try_from(xid).unwrap_or(start))
        };
        let target = index.clone();
        let chunk = tokio::task::spawn_blocking(move || target.upsert(documents, Some(watermark)));
        if last_chunk {
            chunk.await??;
            return Ok(indexed);
        }
        indexing = Some(chunk);
    }
}

/// Indexes the current state of the rows with these ids, whatever their transaction ids; the
/// watermark stays where it is.
#[tracing::instrument(skip_all, fields(ids = ids.len()))]
pub async fn index_changed(
    pool: &PgPool,
    index: &SearchIndex,
    mut ids: Vec<Uuid>,
    indexed: &mut IndexedVersions,
) -> anyhow::Result<()> {
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<ChangedRow> = sqlx::query_as(
        "SELECT id, applicant, title, description, items, status, applied_at, version, change_xid::text::bigint AS change_xid \
         FROM applications WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let versions: Vec<(Uuid, i64)> = rows.iter().map(|row| (row.id, row.version)).collect();
    let documents: Vec<ApplicationDocument> =
        rows.into_iter().map(ApplicationDocument::from).collect();
    let target = index.clone();
    tokio::task::spawn_blocking(move || target.upsert(documents, None)).await??;
    indexed.extend(versions);
    Ok(())
}
