//! Reading changed rows from PostgreSQL into the index, in chunks.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, types::Json};
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
    change_xid: i64,
}

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
pub async fn catch_up(pool: &PgPool, index: &SearchIndex) -> anyhow::Result<usize> {
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
    loop {
        let rows: Vec<ChangedRow> = sqlx::query_as(
            "SELECT id, applicant, title, description, items, status, applied_at, change_xid::text::bigint AS change_xid \
             FROM applications \
             WHERE change_xid >= $1::bigint::text::xid8 AND change_xid < $2::bigint::text::xid8 \
               AND ($3::bigint IS NULL OR (change_xid, id) > ($3::bigint::text::xid8, $4::uuid)) \
             ORDER BY change_xid, id LIMIT $5",
        )
        .bind(i64::try_from(start)?)
        .bind(i64::try_from(horizon)?)
        .bind(after.map(|(xid, _)| xid))
        .bind(after.map(|(_, id)| id))
        .bind(CHUNK_ROWS)
        .fetch_all(pool)
        .await?;
        let last_chunk = (rows.len() as i64) < CHUNK_ROWS;
        after = rows.last().map(|row| (row.change_xid, row.id)).or(after);
        indexed += rows.len();
        let documents: Vec<ApplicationDocument> =
            rows.into_iter().map(ApplicationDocument::from).collect();
        // Mid-way, rows of the last transaction seen may continue in the next chunk, so only
        // the start of that transaction is safe to record; at the end, the horizon is.
        let watermark = if last_chunk {
            horizon
        } else {
            after.map_or(start, |(xid, _)| u64::try_from(xid).unwrap_or(start))
        };
        let target = index.clone();
        tokio::task::spawn_blocking(move || target.upsert(documents, Some(watermark))).await??;
        if last_chunk {
            return Ok(indexed);
        }
    }
}

/// Indexes the current state of the rows with these ids, whatever their transaction ids; the
/// watermark stays where it is.
#[tracing::instrument(skip_all, fields(ids = ids.len()))]
pub async fn index_changed(
    pool: &PgPool,
    index: &SearchIndex,
    mut ids: Vec<Uuid>,
) -> anyhow::Result<()> {
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<ChangedRow> = sqlx::query_as(
        "SELECT id, applicant, title, description, items, status, applied_at, change_xid::text::bigint AS change_xid \
         FROM applications WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let documents: Vec<ApplicationDocument> =
        rows.into_iter().map(ApplicationDocument::from).collect();
    let target = index.clone();
    tokio::task::spawn_blocking(move || target.upsert(documents, None)).await??;
    Ok(())
}
