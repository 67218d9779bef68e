//! Statements on the `applications` table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{
    application_rows::{ApplicationRow, COLUMNS},
    binary_copy,
};
use crate::domain::{Application, ApplicationStatus, ListFilter, page_token::PageCursor};

/// Inserts all `applications` with one binary COPY on the caller's transaction.
#[tracing::instrument(skip_all, fields(count = applications.len()))]
pub async fn insert_all(
    connection: &mut PgConnection,
    applications: &[Application],
) -> anyhow::Result<()> {
    let encoded = binary_copy::encode(applications)?;
    zayavki_common::binary_copy::copy_in(
        connection,
        binary_copy::COPY_STATEMENT,
        encoded,
        applications.len(),
    )
    .await
}

/// The id of the caller's transaction (assigning one if it has none yet), in the units of
/// `change_xid`.
pub async fn transaction_id(connection: &mut PgConnection) -> anyhow::Result<u64> {
    let id: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(connection)
        .await?;
    Ok(u64::try_from(id)?)
}

#[tracing::instrument(skip(connection))]
pub async fn find(connection: &mut PgConnection, id: Uuid) -> anyhow::Result<Option<Application>> {
    let statement = format!("SELECT {COLUMNS} FROM applications WHERE id = $1");
    let row: Option<ApplicationRow> = sqlx::query_as(&statement)
        .bind(id)
        .fetch_optional(connection)
        .await?;
    row.map(Application::try_from).transpose()
}

/// The rows of `ids`, in no particular order; missing ids are skipped.
pub async fn find_rows<'e>(
    executor: impl PgExecutor<'e>,
    ids: &[Uuid],
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    let statement = format!("SELECT {COLUMNS} FROM applications WHERE id = ANY($1)");
    sqlx::query_as(&statement)
        .bind(ids)
        .fetch_all(executor)
        .await
}

/// Reads `ids` in the order given; missing ids are skipped.
#[tracing::instrument(skip_all, fields(count = ids.len()))]
pub async fn find_all(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> anyhow::Result<Vec<Application>> {
    let mut found: HashMap<Uuid, ApplicationRow> = find_rows(connection, ids)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    ids.iter()
        .filter_map(|id| found.remove(id))
        .map(Application::try_from)
        .collect()
}

/// One page of a listing, newest first, after `cursor` when given.
#[tracing::instrument(skip(connection))]
pub async fn list(
    connection: &mut PgConnection,
    filter: &ListFilter,
    applicant: Option<&str>,
    cursor: Option<PageCursor>,
    limit: u32,
) -> anyhow::Result<Vec<Application>> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM applications WHERE TRUE"));
    push_filter(&mut query, filter, applicant);
    if let Some(cursor) = cursor {
        query
            .push(" AND (applied_at, id) < (")
            .push_bind(cursor.applied_at)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    query
        .push(" ORDER BY applied_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit));
    let rows: Vec<ApplicationRow> = query.build_query_as().fetch_all(connection).await?;
    rows.into_iter().map(Application::try_from).collect()
}

/// Appends ` AND …` conditions for `applicant`, the filing-date window and the statuses of
/// `filter` to a statement that ends in a `WHERE` clause.
pub(super) fn push_filter(
    query: &mut QueryBuilder<'_, Postgres>,
    filter: &ListFilter,
    applicant: Option<&str>,
) {
    if let Some(applicant) = applicant {
        query
            .push(" AND applicant = ")
            .push_bind(applicant.to_owned());
    }
    if let Some(from) = filter.applied.from {
        query.push(" AND applied_at >= ").push_bind(from);
    }
    if let Some(before) = filter.applied.before {
        query.push(" AND applied_at < ").push_bind(before);
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&'static str> = filter
            .statuses
            .iter()
            .map(|status| status.as_str())
            .collect();
        query
            .push(" AND status = ANY(")
            .push_bind(statuses)
            .push(")");
    }
}

/// A status change to write when the row still has `expected_version`.
#[derive(Debug)]
pub struct StatusChange<'a> {
    pub id: Uuid,
    pub expected_version: i64,
    pub status: ApplicationStatus,
    pub at: DateTime<Utc>,
    pub cancel_reason: Option<&'a str>,
    pub rejection_reason: Option<&'a str>,
}

/// Writes `change` if nobody changed the row since it was read; `None` when somebody did.
#[tracing::instrument(skip(connection))]
pub async fn change_status(
    connection: &mut PgConnection,
    change: StatusChange<'_>,
) -> anyhow::Result<Option<Application>> {
    let cancelled = change.status == ApplicationStatus::Cancelled;
    let statement = format!(
        "UPDATE applications SET status = $3, updated_at = $4, version = version + 1, \
         change_xid = pg_current_xact_id(), \
         cancel_reason = CASE WHEN $5 THEN $6 ELSE cancel_reason END, \
         cancelled_at = CASE WHEN $5 THEN $4 ELSE cancelled_at END, \
         rejection_reason = COALESCE($7, rejection_reason) \
         WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
    );
    let row: Option<ApplicationRow> = sqlx::query_as(&statement)
        .bind(change.id)
        .bind(change.expected_version)
        .bind(change.status.as_str())
        .bind(change.at)
        .bind(cancelled)
        .bind(change.cancel_reason)
        .bind(change.rejection_reason)
        .fetch_optional(connection)
        .await?;
    row.map(Application::try_from).transpose()
}
