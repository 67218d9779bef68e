//! Reports requested through this service, and what became of them.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{ReportFormat, ReportKind};

pub struct NewReportRequest<'a> {
    pub report_id: Uuid,
    pub kind: ReportKind,
    pub format: ReportFormat,
    pub owner: &'a str,
    pub owner_role: &'a str,
    pub application_id: Option<Uuid>,
}

pub async fn insert(
    connection: &mut PgConnection,
    request: &NewReportRequest<'_>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO report_requests (report_id, kind, format, owner, owner_role, application_id) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(request.report_id)
    .bind(request.kind.as_str())
    .bind(request.format.as_str())
    .bind(request.owner)
    .bind(request.owner_role)
    .bind(request.application_id)
    .execute(connection)
    .await?;
    Ok(())
}

/// Records the outcome of a report; returns the application it was for, if any.
pub async fn record_outcome(
    connection: &mut PgConnection,
    report_id: Uuid,
    status: &str,
    size_bytes: Option<i64>,
    reason: Option<&str>,
) -> anyhow::Result<Option<Option<Uuid>>> {
    Ok(sqlx::query_scalar(
        "UPDATE report_requests SET status = $2, size_bytes = $3, reason = $4, updated_at = now() \
         WHERE report_id = $1 RETURNING application_id",
    )
    .bind(report_id)
    .bind(status)
    .bind(size_bytes)
    .bind(reason)
    .fetch_optional(connection)
    .await?)
}

pub async fn status<'e>(
    executor: impl PgExecutor<'e>,
    report_id: Uuid,
) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT status FROM report_requests WHERE report_id = $1")
            .bind(report_id)
            .fetch_optional(executor)
            .await?,
    )
}
