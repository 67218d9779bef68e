//! Reading the log in its order, and pruning it.
//!
//! The order is (writing transaction, row id). A bigserial id alone is not an order a reader can
//! follow: ids are taken when rows are inserted, not when they commit, so a transaction holding
//! id 7 may commit after id 8 has been read and passed, and 7 would be skipped. A transaction id
//! is taken at a transaction's first write instead, and a row only counts as *settled* once
//! every transaction below its own has finished: its xid is below the snapshot's `xmin`
//! (`pg_snapshot_xmin(pg_current_snapshot())`, read in the same statement as the rows, so in
//! the same snapshot). Nothing can ever appear before a settled row, so a reader that stops at
//! the first unsettled row and remembers the last settled one never skips and never repeats.
//! A transaction that writes after another one committed has the larger xid, so events that
//! follow from each other come out in the order they were committed.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;

use super::Cursor;

/// One event as clients receive it: its position, time, owner, type and fields.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub position: Cursor,
    pub at: DateTime<Utc>,
    pub owner: String,
    /// `report.progress`, `report.completed`, `report.failed`, `application.status_changed`.
    pub kind: String,
    pub body: Value,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    transaction: i64,
    at: DateTime<Utc>,
    owner: String,
    kind: String,
    body: Value,
}

impl From<EntryRow> for LogEntry {
    fn from(row: EntryRow) -> Self {
        Self {
            position: Cursor {
                transaction: row.transaction,
                id: row.id,
            },
            at: row.at,
            owner: row.owner,
            kind: row.kind,
            body: row.body,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SettledRow {
    #[sqlx(flatten)]
    entry: EntryRow,
    /// Every transaction below this one had finished when the row was read.
    horizon: i64,
}

/// What [`settled_after`] found.
#[derive(Debug, Default)]
pub struct SettledPage {
    /// Settled rows in log order, a prefix of everything after the position asked for.
    pub entries: Vec<LogEntry>,
    /// The page was full: more may follow at once.
    pub full: bool,
    /// Committed rows wait behind a transaction that is still running.
    pub held_back: bool,
}

/// The next settled rows after `after`, at most `limit`.
pub async fn settled_after(
    executor: impl PgExecutor<'_>,
    after: Cursor,
    limit: i64,
) -> sqlx::Result<SettledPage> {
    let rows: Vec<SettledRow> = sqlx::query_as(
        "SELECT id, xid::text::bigint AS transaction, at, owner, type AS kind, body, \
         pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon \
         FROM event_log WHERE (xid, id) > ($1::text::xid8, $2) \
         ORDER BY xid, id LIMIT $3",
    )
    .bind(after.transaction.to_string())
    .bind(after.id)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    let fetched = rows.len();
    let entries: Vec<LogEntry> = rows
        .into_iter()
        .take_while(|row| row.entry.transaction < row.horizon)
        .map(|row| row.entry.into())
        .collect();
    Ok(SettledPage {
        full: entries.len() as i64 == limit,
        held_back: entries.len() < fetched,
        entries,
    })
}

/// The last settled position: everything at or before it is settled, nothing after it is.
/// [`Cursor::START`] when the log holds no settled row.
pub async fn settled_head(executor: impl PgExecutor<'_>) -> sqlx::Result<Cursor> {
    let head: Option<(i64, i64)> = sqlx::query_as(
        "SELECT xid::text::bigint, id FROM event_log \
         WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY xid DESC, id DESC LIMIT 1",
    )
    .fetch_optional(executor)
    .await?;
    Ok(head.map_or(Cursor::START, |(transaction, id)| Cursor {
        transaction,
        id,
    }))
}

/// Who a reader may see: everyone's events, or one owner's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience<'a> {
    Everyone,
    Owner(&'a str),
}

impl Audience<'_> {
    pub fn sees(&self, owner: &str) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Owner(subject) => *subject == owner,
        }
    }

    fn owner(&self) -> Option<&str> {
        match self {
            Audience::Everyone => None,
            Audience::Owner(subject) => Some(subject),
        }
    }
}

/// A page of a replay.
#[derive(Debug, Default)]
pub struct ReplayPage {
    /// The audience's rows after the anchor, in log order.
    pub entries: Vec<LogEntry>,
    /// More rows may follow before the end of the replay.
    pub full: bool,
}

/// The audience's rows after `anchor` up to `until` (which must be settled), at most `limit`;
/// `None` when the log no longer holds `anchor` (pruned) or never did.
///
/// The anchor row is read in the same statement: pruning removes a prefix of the log, so while
/// the anchor is there, nothing after it is missing.
pub async fn replay_after(
    executor: impl PgExecutor<'_>,
    anchor: Cursor,
    until: Cursor,
    audience: Audience<'_>,
    limit: i64,
) -> sqlx::Result<Option<ReplayPage>> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT id, xid::text::bigint AS transaction, at, owner, type AS kind, body \
         FROM event_log \
         WHERE (xid, id) >= ($1::text::xid8, $2) AND (xid, id) <= ($3::text::xid8, $4) \
         AND ((xid, id) = ($1::text::xid8, $2) OR $5::text IS NULL OR owner = $5) \
         ORDER BY xid, id LIMIT $6",
    )
    .bind(anchor.transaction.to_string())
    .bind(anchor.id)
    .bind(until.transaction.to_string())
    .bind(until.id)
    .bind(audience.owner())
    .bind(limit + 1)
    .fetch_all(executor)
    .await?;
    let mut rows = rows.into_iter().map(LogEntry::from);
    match rows.next() {
        Some(first) if first.position == anchor => {}
        _ => return Ok(None),
    }
    let entries: Vec<LogEntry> = rows.collect();
    Ok(Some(ReplayPage {
        full: entries.len() as i64 == limit,
        entries,
    }))
}

/// Whether the log still holds the row at `position`.
pub async fn contains(executor: impl PgExecutor<'_>, position: Cursor) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM event_log WHERE id = $2 AND xid = $1::text::xid8)",
    )
    .bind(position.transaction.to_string())
    .bind(position.id)
    .fetch_one(executor)
    .await
}

/// Deletes up to `limit` rows from the start of the log, as long as each is older than
/// `retention`; returns how many. The log only ever loses a prefix, so a position still in it
/// has everything after it.
pub async fn prune_prefix(
    executor: impl PgExecutor<'_>,
    retention: std::time::Duration,
    limit: i64,
) -> sqlx::Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM event_log WHERE id IN ( \
           SELECT id FROM ( \
             SELECT id, bool_and(at < now() - make_interval(secs => $1)) \
                    OVER (ORDER BY xid, id) AS all_old_so_far \
             FROM (SELECT id, xid, at FROM event_log ORDER BY xid, id LIMIT $2) AS first_rows \
           ) AS prefix WHERE all_old_so_far)",
    )
    .bind(retention.as_secs_f64())
    .bind(limit)
    .execute(executor)
    .await?;
    Ok(deleted.rows_affected())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event_log::testing::{append_numbered, migrated_database};

    const DAY: Duration = Duration::from_secs(24 * 3600);

    async fn numbers_in_log(pool: &sqlx::PgPool) -> Vec<i64> {
        sqlx::query_scalar("SELECT (body->>'number')::bigint FROM event_log ORDER BY xid, id")
            .fetch_all(pool)
            .await
            .expect("the log")
    }

    async fn make_older_than_a_day(pool: &sqlx::PgPool, number: u32) {
        sqlx::query(
            "UPDATE event_log SET at = now() - interval '25 hours' \
             WHERE (body->>'number')::bigint = $1",
        )
        .bind(i64::from(number))
        .execute(pool)
        .await
        .expect("aged");
    }

    #[tokio::test]
    async fn pruning_removes_the_old_rows_at_the_start_of_the_log_only() {
        let database = migrated_database().await;
        let mut connection = database.pool.acquire().await.expect("a connection");
        for number in 1..=4 {
            append_numbered(&mut connection, "user-1", number).await;
        }
        for old in [1, 2, 4] {
            make_older_than_a_day(&database.pool, old).await;
        }

        let pruned = prune_prefix(&database.pool, DAY, 100)
            .await
            .expect("pruned");

        assert_eq!(pruned, 2);
        assert_eq!(numbers_in_log(&database.pool).await, [3, 4]);
    }

    #[tokio::test]
    async fn a_replay_shows_the_audience_its_rows_and_refuses_a_pruned_anchor() {
        let database = migrated_database().await;
        let mut connection = database.pool.acquire().await.expect("a connection");
        for (number, owner) in [(1, "user-1"), (2, "user-2"), (3, "user-1"), (4, "user-2")] {
            append_numbered(&mut connection, owner, number).await;
        }
        // Every row is committed; whether settled depends on transactions elsewhere too.
        let positions: Vec<(i64, i64)> =
            sqlx::query_as("SELECT xid::text::bigint, id FROM event_log ORDER BY xid, id")
                .fetch_all(&database.pool)
                .await
                .expect("the log");
        let [first, .., head] = positions[..]
            .iter()
            .map(|&(transaction, id)| Cursor { transaction, id })
            .collect::<Vec<_>>()[..]
        else {
            panic!("four rows");
        };

        let mine = replay_after(&database.pool, first, head, Audience::Owner("user-2"), 10)
            .await
            .expect("a replay")
            .expect("the anchor is kept");
        let everyone = replay_after(&database.pool, first, head, Audience::Everyone, 2)
            .await
            .expect("a replay")
            .expect("the anchor is kept");
        make_older_than_a_day(&database.pool, 1).await;
        prune_prefix(&database.pool, DAY, 100)
            .await
            .expect("pruned");
        let after_pruning = replay_after(&database.pool, first, head, Audience::Everyone, 10)
            .await
            .expect("a replay");

        let numbers = |entries: &[LogEntry]| -> Vec<u64> {
            entries
                .iter()
                .map(|entry| entry.body["number"].as_u64().expect("numbered"))
                .collect()
        };
        assert_eq!(numbers(&mine.entries), [2, 4]);
        assert!(!mine.full);
        assert_eq!(numbers(&everyone.entries), [2, 3]);
        assert!(everyone.full);
        assert!(after_pruning.is_none());
        assert!(!contains(&database.pool, first).await.expect("asked"));
        assert!(contains(&database.pool, head).await.expect("asked"));
    }
}
