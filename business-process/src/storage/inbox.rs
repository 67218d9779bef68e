//! Messages already handled, per consumer: the insert shares the transaction of the message's
//! effect, so a redelivered or duplicated message finds its row and does nothing.

use sqlx::PgConnection;
use uuid::Uuid;

/// Records `message_id` as handled by `consumer`; false when it was handled before.
pub async fn first_time(
    connection: &mut PgConnection,
    consumer: &str,
    message_id: Uuid,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
