//! Application events that arrived before their predecessor had taken effect.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Keeps an early event until the application reaches the version before it, and marks its
/// process (when there is one yet; the caller holds its lock) as having early events.
pub async fn defer(
    connection: &mut PgConnection,
    application_id: Uuid,
    version: i64,
    message_id: Uuid,
    body: &Value,
) -> anyhow::Result<()> {
    sqlx::query(
        "WITH kept AS ( \
             INSERT INTO deferred_events (application_id, version, message_id, body) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING) \
         UPDATE processes SET early_events = true \
         WHERE application_id = $1 AND NOT early_events",
    )
    .bind(application_id)
    .bind(version)
    .bind(message_id)
    .bind(sqlx::types::Json(body))
    .execute(connection)
    .await?;
    Ok(())
}

/// Removes and returns the deferred event of `application_id` at `version`, if any.
pub async fn take(
    connection: &mut PgConnection,
    application_id: Uuid,
    version: i64,
) -> anyhow::Result<Option<Value>> {
    let body: Option<sqlx::types::Json<Value>> = sqlx::query_scalar(
        "DELETE FROM deferred_events WHERE application_id = $1 AND version = $2 RETURNING body",
    )
    .bind(application_id)
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(body.map(|body| body.0))
}
