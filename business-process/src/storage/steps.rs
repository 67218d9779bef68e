//! The step history of every process.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// One recorded step.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Step {
    pub step: String,
    pub details: sqlx::types::Json<Value>,
    pub at: DateTime<Utc>,
}

/// Appends `step` with `details` (a JSON object) to the history of `application_id`.
pub async fn record(
    connection: &mut PgConnection,
    application_id: Uuid,
    step: &str,
    details: Value,
) -> anyhow::Result<()> {
    record_all(connection, application_id, vec![(step, details)]).await
}

/// Appends `steps` (name and details, in order) to the history of `application_id`, in one
/// statement.
pub async fn record_all(
    connection: &mut PgConnection,
    application_id: Uuid,
    steps: Vec<(&str, Value)>,
) -> anyhow::Result<()> {
    let (names, details): (Vec<&str>, Vec<sqlx::types::Json<Value>>) = steps
        .into_iter()
        .map(|(name, details)| (name, sqlx::types::Json(details)))
        .unzip();
    sqlx::query(
        "INSERT INTO process_steps (application_id, step, details) \
         SELECT $1, step, details FROM unnest($2::text[], $3::jsonb[]) \
             WITH ORDINALITY AS steps (step, details, position) \
         ORDER BY position",
    )
    .bind(application_id)
    .bind(names)
    .bind(details)
    .execute(connection)
    .await?;
    Ok(())
}

/// The whole history, oldest first.
pub async fn history<'e>(
    executor: impl PgExecutor<'e>,
    application_id: Uuid,
) -> anyhow::Result<Vec<Step>> {
    Ok(sqlx::query_as(
        "SELECT step, details, at FROM process_steps WHERE application_id = $1 ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(executor)
    .await?)
}
