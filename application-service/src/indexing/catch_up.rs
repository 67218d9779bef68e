//! Reading changed rows from PostgreSQL into the index, in chunks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, types::Json};
use tokio::task::JoinHandle;
use uuid::Uuid;
use zayavki_common::metrics::SEARCH_INDEX_LAG_TRANSACTIONS;
use zayavki_search::{ApplicationDocument, SearchIndex};

use crate::{
    domain::{Application, item::StoredItem},
    service::Change,
};

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
    // Every write on the server takes a transaction id (other databases' too), so the gap is
    // small and steady while the index keeps up, and grows while catching up fails.
    metrics::gauge!(SEARCH_INDEX_LAG_TRANSACTIONS).set(horizon.saturating_sub(start) as f64);
    if horizon <= start {
        return Ok(0);
    }
    let mut indexed = 0;
    let mut after: Option<(i64, Uuid)> = None;
    // The previous chunk is indexed on a blocking thread while the next one is read, so
    // PostgreSQL and the indexer work at the same time; commits still happen in order.
    let mut indexing: Option<JoinHandle<anyhow::Result<()>>> = None;
    loop {
        let range = ChunkRange {
            start: i64::try_from(start)?,
            horizon: i64::try_from(horizon)?,
            after,
        };
        let fetched = read_chunk(pool, &range, already_indexed).await;
        // Whatever the read gave, the previous chunk is committed (or has failed) first.
        if let Some(previous) = indexing.take() {
            previous.await??;
        }
        let chunk = fetched?;
        let last_chunk = chunk.rows_in_range < CHUNK_ROWS as usize;
        after = chunk.last.or(after);
        indexed += chunk.rows_in_range;
        let documents: Vec<ApplicationDocument> = chunk
            .to_index
            .into_iter()
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
        let commit = tokio::task::spawn_blocking(move || target.upsert(documents, Some(watermark)));
        if last_chunk {
            commit.await??;
            return Ok(indexed);
        }
        indexing = Some(commit);
    }
}

/// The rows a chunk covers: written by transactions in `start..horizon`, after `after` in
/// (transaction, id) order.
struct ChunkRange {
    start: i64,
    horizon: i64,
    after: Option<(i64, Uuid)>,
}

struct Chunk {
    /// Rows of the range in this chunk, indexed or skipped.
    rows_in_range: usize,
    /// The (transaction, id) of the chunk's last row, where the next chunk starts.
    last: Option<(i64, Uuid)>,
    /// The rows to index: those not already indexed at their current version.
    to_index: Vec<ChangedRow>,
}

/// The range's condition, order and chunk size. The order names the table's columns: the bare
/// `change_xid` would be the bigint output column, which no index provides, and every chunk
/// would sort all remaining rows.
const RANGE_CLAUSES: &str = "change_xid >= $1::bigint::text::xid8 AND change_xid < $2::bigint::text::xid8 \
     AND ($3::bigint IS NULL OR (change_xid, id) > ($3::bigint::text::xid8, $4::uuid)) \
     ORDER BY applications.change_xid, applications.id LIMIT $5";

/// Reads the next chunk. When this replica indexed rows from announced ids (the usual case
/// for its own writes), the chunk is first read as (id, version) only, and just the rows not
/// yet indexed are read in full: their text is not transferred and decoded a second time.
async fn read_chunk(
    pool: &PgPool,
    range: &ChunkRange,
    already_indexed: &mut IndexedVersions,
) -> anyhow::Result<Chunk> {
    if already_indexed.is_empty() {
        let rows: Vec<ChangedRow> = bind_range(
            sqlx::query_as(&format!(
                "SELECT {CHANGED_COLUMNS} FROM applications WHERE {RANGE_CLAUSES}"
            )),
            range,
        )
        .fetch_all(pool)
        .await?;
        return Ok(Chunk {
            rows_in_range: rows.len(),
            last: rows.last().map(|row| (row.change_xid, row.id)),
            to_index: rows,
        });
    }
    let keys: Vec<(Uuid, i64, i64)> = bind_range(
        sqlx::query_as(&format!(
            "SELECT id, version, change_xid::text::bigint FROM applications WHERE {RANGE_CLAUSES}"
        )),
        range,
    )
    .fetch_all(pool)
    .await?;
    let last = keys.last().map(|(id, _, xid)| (*xid, *id));
    let missing: Vec<Uuid> = keys
        .iter()
        .filter(|(id, version, _)| already_indexed.remove(id) != Some(*version))
        .map(|(id, _, _)| *id)
        .collect();
    // Read as they are now: a later version is as good (its own transaction comes later).
    let to_index = if missing.is_empty() {
        Vec::new()
    } else {
        read_rows(pool, &missing).await?
    };
    Ok(Chunk {
        rows_in_range: keys.len(),
        last,
        to_index,
    })
}

fn bind_range<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    range: &ChunkRange,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(range.start)
        .bind(range.horizon)
        .bind(range.after.map(|(xid, _)| xid))
        .bind(range.after.map(|(_, id)| id))
        .bind(CHUNK_ROWS)
}

const CHANGED_COLUMNS: &str = "id, applicant, title, description, items, status, applied_at, version, \
     change_xid::text::bigint AS change_xid";

async fn read_rows(pool: &PgPool, ids: &[Uuid]) -> anyhow::Result<Vec<ChangedRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CHANGED_COLUMNS} FROM applications WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// Indexes what this replica's writes changed: filed applications as they were stored,
/// touched ones as they are now. The watermark stays where it is.
///
/// A filed application is indexed from memory only while catching up has not passed its
/// transaction: catching up will then still read the row, and index it again if it changed
/// meanwhile (a later version). Otherwise its current state is read, like a touched one.
#[tracing::instrument(skip_all, fields(changes = changes.len()))]
pub async fn index_changes(
    pool: &PgPool,
    index: &SearchIndex,
    changes: Vec<Change>,
    indexed: &mut IndexedVersions,
) -> anyhow::Result<()> {
    let caught_up_to = index.watermark().unwrap_or(0);
    let mut versions: Vec<(Uuid, i64)> = Vec::new();
    let mut documents: Vec<ApplicationDocument> = Vec::new();
    let mut reread: Vec<Uuid> = Vec::new();
    for change in changes {
        match change {
            Change::Filed {
                transaction,
                applications,
            } if transaction >= caught_up_to => {
                for application in applications {
                    versions.push((application.id, application.version));
                    documents.push(document_of(application));
                }
            }
            Change::Filed { applications, .. } => {
                reread.extend(applications.iter().map(|application| application.id));
            }
            Change::Touched(ids) => reread.extend(ids),
        }
    }
    if !reread.is_empty() {
        reread.sort_unstable();
        reread.dedup();
        // Read last and indexed last: when an id is both filed and touched, the current row
        // wins.
        for row in read_rows(pool, &reread).await? {
            versions.push((row.id, row.version));
            documents.push(ApplicationDocument::from(row));
        }
    }
    let target = index.clone();
    tokio::task::spawn_blocking(move || target.upsert(documents, None)).await??;
    indexed.extend(versions);
    Ok(())
}

fn document_of(application: Application) -> ApplicationDocument {
    ApplicationDocument {
        id: application.id,
        applicant: application.applicant,
        title: application.title,
        description: application.description,
        item_names: application
            .items
            .into_iter()
            .map(|item| item.name)
            .collect(),
        status: application.status.as_str().to_owned(),
        applied_at: application.applied_at,
    }
}
