//! Durable timers: a row per deadline, claimed once when due, across restarts and replicas.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

pub const DECISION_DEADLINE: &str = "decision_deadline";

/// Sets (or moves) the timer of `application_id`.
pub async fn schedule(
    connection: &mut PgConnection,
    application_id: Uuid,
    kind: &str,
    due_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO timers (application_id, kind, due_at) VALUES ($1, $2, $3) \
         ON CONFLICT (application_id) DO UPDATE SET kind = $2, due_at = $3, fired_at = NULL, \
         cancelled_at = NULL",
    )
    .bind(application_id)
    .bind(kind)
    .bind(due_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Drops the timer of `application_id` if it has not fired.
pub async fn cancel(connection: &mut PgConnection, application_id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE timers SET cancelled_at = now() WHERE application_id = $1 \
         AND fired_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(application_id)
    .execute(connection)
    .await?;
    Ok(())
}

/// Marks up to `limit` due timers fired and returns their applications, locked until the
/// caller's transaction ends (another replica passes them over).
pub async fn fire_due(connection: &mut PgConnection, limit: i64) -> anyhow::Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "UPDATE timers SET fired_at = now() WHERE application_id IN ( \
             SELECT application_id FROM timers \
             WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= now() \
             ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING application_id",
    )
    .bind(limit)
    .fetch_all(connection)
    .await?)
}

/// When the earliest pending timer is due.
pub async fn next_due<'e>(executor: impl PgExecutor<'e>) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "SELECT min(due_at) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL",
    )
    .fetch_one(executor)
    .await?)
}
