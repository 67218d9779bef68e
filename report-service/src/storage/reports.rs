//! The `reports` table: what was asked, how far the build got, where the file is.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::ReportJob;

/// A report as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredReport {
    pub id: Uuid,
    pub owner: String,
    pub owner_role: String,
    pub kind: String,
    pub format: String,
    pub parameters: Value,
    pub status: String,
    pub attempts: i32,
    pub percent: i16,
    pub error: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub row_count: Option<i64>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub object_key: Option<String>,
}

const COLUMNS: &str = "id, owner, owner_role, kind, format, parameters, status, attempts, \
     percent, error, requested_at, created_at, started_at, finished_at, row_count, size, sha256, \
     file_name, object_key";

/// What a finished build stored.
#[derive(Clone, Debug)]
pub struct StoredFile<'a> {
    pub object_key: &'a str,
    pub file_name: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub rows: u64,
}

/// Records a received job (QUEUED) unless its report is known already.
#[tracing::instrument(skip_all, fields(report = %job.report_id))]
pub async fn record_received(connection: &mut PgConnection, job: &ReportJob) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reports (id, owner, owner_role, kind, format, parameters, requested_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(job.report_id)
    .bind(&job.owner)
    .bind(&job.owner_role)
    .bind(job.kind.as_str())
    .bind(job.format.as_str())
    .bind(job.parameters_json())
    .bind(job.requested_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// QUEUED or RUNNING → RUNNING, counting the attempt; the attempts so far, or None when the
/// report is COMPLETED or FAILED already.
pub async fn start_attempt(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "UPDATE reports SET status = 'RUNNING', attempts = attempts + 1, started_at = now(), \
         percent = 0 WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING attempts",
    )
    .bind(id)
    .fetch_optional(connection)
    .await
}

/// The report's status, if it is known.
pub async fn status(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT status FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(connection)
        .await
}

/// A RUNNING report's progress; false when it is not running.
pub async fn set_percent(
    connection: &mut PgConnection,
    id: Uuid,
    percent: u8,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE reports SET percent = $2 WHERE id = $1 AND status = 'RUNNING' AND percent < $2",
    )
    .bind(id)
    .bind(i16::from(percent))
    .execute(connection)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// RUNNING → COMPLETED with its file; false when it was not running.
pub async fn complete(
    connection: &mut PgConnection,
    id: Uuid,
    file: &StoredFile<'_>,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE reports SET status = 'COMPLETED', percent = 100, finished_at = now(), \
         error = NULL, object_key = $2, file_name = $3, size = $4, sha256 = $5, row_count = $6 \
         WHERE id = $1 AND status = 'RUNNING'",
    )
    .bind(id)
    .bind(file.object_key)
    .bind(file.file_name)
    .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
    .bind(file.sha256)
    .bind(i64::try_from(file.rows).unwrap_or(i64::MAX))
    .execute(connection)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// → FAILED with `reason`; false when it was COMPLETED or FAILED already.
pub async fn fail(connection: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE reports SET status = 'FAILED', finished_at = now(), error = $2 \
         WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')",
    )
    .bind(id)
    .bind(reason)
    .execute(connection)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// RUNNING → QUEUED again while its job waits in a retry queue, with why the attempt failed.
pub async fn requeue(pool: &PgPool, id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reports SET status = 'QUEUED', error = $2 WHERE id = $1 AND status = 'RUNNING'",
    )
    .bind(id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<StoredReport>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM reports WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Where a page of the listing starts: after this report in newest-first order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListPosition {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Reports newest first, `owner`'s only when given, after `after`, at most `limit`.
pub async fn list(
    pool: &PgPool,
    owner: Option<&str>,
    after: Option<ListPosition>,
    limit: i64,
) -> sqlx::Result<Vec<StoredReport>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reports \
         WHERE ($1::text IS NULL OR owner = $1) \
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(owner)
    .bind(after.map(|position| position.created_at))
    .bind(after.map(|position| position.id))
    .bind(limit)
    .fetch_all(pool)
    .await
}
