//! Statements on the `outbox` and `outbox_relay` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{amqp::OutgoingMessage, binary_copy::CopyWriter};

/// The channel the outbox's trigger notifies when messages are committed.
pub const NOTIFY_CHANNEL: &str = "outbox";

const COPY_STATEMENT: &str = "COPY outbox (message_id, exchange, routing_key, body, traceparent, \
     occurred_at) FROM STDIN (FORMAT binary)";
const COLUMN_COUNT: i16 = 6;

/// Writes `messages` on the caller's transaction: one INSERT for a single message, one binary
/// COPY for a batch (the same bulk path as the rows that caused them).
#[tracing::instrument(skip_all, fields(count = messages.len()))]
pub async fn insert_all(
    connection: &mut PgConnection,
    messages: &[OutgoingMessage],
) -> anyhow::Result<()> {
    match messages {
        [] => Ok(()),
        [message] => {
            sqlx::query(
                "INSERT INTO outbox (message_id, exchange, routing_key, body, traceparent, \
                 occurred_at) VALUES ($1, $2, $3, $4::json, $5, $6)",
            )
            .bind(message.message_id)
            .bind(&message.exchange)
            .bind(&message.routing_key)
            .bind(&message.body)
            .bind(&message.traceparent)
            .bind(message.occurred_at)
            .execute(connection)
            .await?;
            Ok(())
        }
        many => {
            let mut writer = CopyWriter::with_capacity(many.len() * 512);
            for message in many {
                writer
                    .row(COLUMN_COUNT)
                    .uuid(message.message_id)?
                    .text(&message.exchange)?
                    .text(&message.routing_key)?
                    .text(&message.body)?
                    .optional_text(message.traceparent.as_deref())?
                    .timestamptz(message.occurred_at);
            }
            writer.copy_in(connection, COPY_STATEMENT, many.len()).await
        }
    }
}

/// Where the relay has published up to, in commit order: every row at or before it is out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Position {
    pub transaction: i64,
    pub id: i64,
}

/// A committed message waiting to be published.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct PendingRow {
    pub id: i64,
    pub transaction: i64,
    #[sqlx(flatten)]
    pub message: OutgoingMessage,
    /// Every transaction below this one had finished when the rows were read.
    pub horizon: i64,
}

impl PendingRow {
    pub fn position(&self) -> Position {
        Position {
            transaction: self.transaction,
            id: self.id,
        }
    }
}

pub(super) async fn published_position(connection: &mut PgConnection) -> anyhow::Result<Position> {
    let (transaction, id): (i64, i64) =
        sqlx::query_as("SELECT published_xid, published_id FROM outbox_relay")
            .fetch_one(connection)
            .await?;
    Ok(Position { transaction, id })
}

pub(super) async fn record_published(
    connection: &mut PgConnection,
    position: Position,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox_relay SET published_xid = $1, published_id = $2, updated_at = now()",
    )
    .bind(position.transaction)
    .bind(position.id)
    .execute(connection)
    .await?;
    Ok(())
}

/// The next `limit` committed rows after `after` in commit order, with the snapshot's horizon
/// read in the same statement (so in the same snapshot as the rows).
pub(super) async fn pending(
    connection: &mut PgConnection,
    after: Position,
    limit: i64,
) -> anyhow::Result<Vec<PendingRow>> {
    let rows = sqlx::query_as(
        "SELECT id, change_xid::text::bigint AS transaction, message_id, exchange, routing_key, \
         body::text AS body, traceparent, occurred_at, \
         pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon \
         FROM outbox WHERE (change_xid, id) > ($1::text::xid8, $2) \
         ORDER BY change_xid, id LIMIT $3",
    )
    .bind(after.transaction.to_string())
    .bind(after.id)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    Ok(rows)
}

/// How many rows wait after `after`, and when the oldest of them was written.
pub(super) async fn backlog(
    connection: &mut PgConnection,
    after: Position,
) -> anyhow::Result<(i64, Option<DateTime<Utc>>)> {
    Ok(sqlx::query_as(
        "SELECT count(*), min(occurred_at) FROM outbox \
         WHERE (change_xid, id) > ($1::text::xid8, $2)",
    )
    .bind(after.transaction.to_string())
    .bind(after.id)
    .fetch_one(connection)
    .await?)
}

/// Deletes published rows older than `retention`; returns how many.
pub(super) async fn prune(
    connection: &mut PgConnection,
    published: Position,
    retention: std::time::Duration,
) -> anyhow::Result<u64> {
    let result = sqlx::query(
        "DELETE FROM outbox WHERE (change_xid, id) <= ($1::text::xid8, $2) \
         AND occurred_at < now() - make_interval(secs => $3)",
    )
    .bind(published.transaction.to_string())
    .bind(published.id)
    .bind(retention.as_secs_f64())
    .execute(connection)
    .await?;
    Ok(result.rows_affected())
}
