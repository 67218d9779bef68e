//! Writing events into the log as the service does (on its database), and reading them back.

use report_service::event_log::{Cursor, LogEvent, append};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// Appends a `report.progress` of `owner` numbered `number`, in a transaction of its own.
pub async fn append_numbered(pool: &PgPool, owner: &str, number: u64) {
    append_event(pool, owner, "report.progress", json!({"number": number})).await;
}

pub async fn append_event(pool: &PgPool, owner: &str, kind: &str, body: Value) {
    let mut connection = pool.acquire().await.expect("a connection");
    let appended = append(
        &mut connection,
        &LogEvent {
            message_id: Uuid::new_v4(),
            owner: owner.to_owned(),
            kind: kind.to_owned(),
            body,
        },
    )
    .await
    .expect("appended");
    assert!(appended);
}

pub fn numbers(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|event| event["number"].as_u64().expect("a numbered event"))
        .collect()
}

/// The id of the first event in the log, as a client would have received it.
pub async fn first_event_id(pool: &PgPool) -> String {
    let (transaction, id): (i64, i64) =
        sqlx::query_as("SELECT xid::text::bigint, id FROM event_log ORDER BY xid, id LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("an event");
    Cursor { transaction, id }.encode()
}

/// Appends `count` `report.failed` events of user-1 of 8 KiB each, numbered from `first`, in
/// one transaction.
pub async fn append_big_events(pool: &PgPool, first: u64, count: u64) {
    let reason = "x".repeat(8 * 1024);
    let mut transaction = pool.begin().await.expect("a transaction");
    for number in first..first + count {
        let event = LogEvent {
            message_id: Uuid::new_v4(),
            owner: "user-1".to_owned(),
            kind: "report.failed".to_owned(),
            body: json!({"number": number, "reason": reason}),
        };
        append(&mut transaction, &event).await.expect("appended");
    }
    transaction.commit().await.expect("committed");
}
