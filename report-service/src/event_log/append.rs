//! Appending one event to the log, on the caller's transaction.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// One event as the log stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEvent {
    /// The broker message id of a consumed event, or the event id of one of ours; an event is
    /// appended once per id.
    pub message_id: Uuid,
    /// The user the event belongs to.
    pub owner: String,
    /// `report.progress`, `report.completed`, `report.failed`, `application.status_changed`.
    pub kind: String,
    /// The fields besides id, type and time (`reportId`, `format`, `percent`, ...).
    pub body: Value,
}

/// Inserts `event` unless an event with its `message_id` is already logged; true when inserted.
#[tracing::instrument(skip_all, fields(kind = %event.kind, message_id = %event.message_id))]
pub async fn append(connection: &mut PgConnection, event: &LogEvent) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO event_log (owner, type, body, message_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&event.owner)
    .bind(&event.kind)
    .bind(&event.body)
    .bind(event.message_id)
    .execute(connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
