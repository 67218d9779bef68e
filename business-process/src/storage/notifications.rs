//! Statements on the `notifications` table: the queue of messages for the outside notification
//! service.
//!
//! A row is written in the transaction of the step that causes it and waits until the delivery
//! worker has handed it over. Its states, all in the one table:
//! - **due**: `delivered_at IS NULL` and `next_attempt_at <= now()`;
//! - **claimed**: a worker moved `next_attempt_at` a lease ahead while it sends the row, so no
//!   other worker picks it up meanwhile, and a worker that dies leaves it due again once the
//!   lease runs out;
//! - **waiting**: a failed attempt moved `next_attempt_at` to the next try;
//! - **refused**: the service refused the notification itself; `next_attempt_at` is `infinity`
//!   and `last_error` says why. Nothing retries it; an operator who fixed the cause sets
//!   `next_attempt_at = now()` to send it again;
//! - **delivered**: `delivered_at` is set.

use std::time::Duration;

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The channel `enqueue` notifies so that the delivery worker wakes when the row commits.
pub const NOTIFY_CHANNEL: &str = "notifications";

/// A notification to deliver; `id` is the idempotency key the outside service deduplicates on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub application_id: Option<Uuid>,
}

/// A notification a worker has claimed, with the attempts already made to deliver it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedNotification {
    pub notification: NewNotification,
    pub attempts: i32,
}

/// What is left to deliver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Notifications not yet delivered that will be tried again (due, claimed or waiting).
    pub undelivered: u64,
    /// Notifications the service refused, kept for an operator.
    pub refused: u64,
    /// How long until the earliest of the undelivered ones is due (zero when one is due now).
    pub next_due_in: Option<Duration>,
}

/// Queues `notification` on the caller's transaction. Queuing the same id again is a no-op, so a
/// step that runs twice notifies once.
#[tracing::instrument(skip_all, fields(notification_id = %notification.id))]
pub async fn enqueue(
    connection: &mut PgConnection,
    notification: &NewNotification,
) -> anyhow::Result<()> {
    // The NOTIFY is delivered at commit, and once per transaction however many rows it queued.
    sqlx::query(
        "WITH queued AS ( \
             INSERT INTO notifications (id, recipient, subject, body, application_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING) \
         SELECT pg_notify($6, '')",
    )
    .bind(notification.id)
    .bind(&notification.recipient)
    .bind(&notification.subject)
    .bind(&notification.body)
    .bind(notification.application_id)
    .bind(NOTIFY_CHANNEL)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Claims up to `limit` due notifications for `lease`, oldest due first. Rows another worker is
/// claiming at the same moment are skipped, so two workers never get the same row; a claimed row
/// is not due again until its lease ends.
#[tracing::instrument(skip_all, fields(limit))]
pub async fn claim_due<'c>(
    executor: impl PgExecutor<'c>,
    limit: i64,
    lease: Duration,
) -> anyhow::Result<Vec<ClaimedNotification>> {
    let rows: Vec<(Uuid, String, String, String, Option<Uuid>, i32)> = sqlx::query_as(
        "UPDATE notifications AS claimed \
         SET next_attempt_at = clock_timestamp() + make_interval(secs => $2) \
         FROM ( \
             SELECT id FROM notifications \
             WHERE delivered_at IS NULL AND next_attempt_at <= now() \
             ORDER BY next_attempt_at \
             LIMIT $1 \
             FOR UPDATE SKIP LOCKED \
         ) AS due \
         WHERE claimed.id = due.id \
         RETURNING claimed.id, claimed.recipient, claimed.subject, claimed.body, \
                   claimed.application_id, claimed.attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, recipient, subject, body, application_id, attempts)| ClaimedNotification {
                notification: NewNotification {
                    id,
                    recipient,
                    subject,
                    body,
                    application_id,
                },
                attempts,
            },
        )
        .collect())
}

/// Records that the service accepted the notification.
#[tracing::instrument(skip_all, fields(%id))]
pub async fn mark_delivered<'c>(executor: impl PgExecutor<'c>, id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE notifications SET delivered_at = now(), attempts = attempts + 1 \
         WHERE id = $1 AND delivered_at IS NULL",
    )
    .bind(id)
    .execute(executor)
    .await?;
    Ok(())
}

/// Leaves the notification queued until `delay` from now, noting why this attempt failed.
/// `attempted` is false when the service was not called at all (the breaker was open), so the
/// notification's own backoff does not grow while the service is known to be down.
#[tracing::instrument(skip_all, fields(%id, ?delay))]
pub async fn reschedule<'c>(
    executor: impl PgExecutor<'c>,
    id: Uuid,
    delay: Duration,
    error: &str,
    attempted: bool,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE notifications \
         SET next_attempt_at = clock_timestamp() + make_interval(secs => $2), \
             last_error = $3, attempts = attempts + $4 \
         WHERE id = $1 AND delivered_at IS NULL",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .bind(error)
    .bind(i32::from(attempted))
    .execute(executor)
    .await?;
    Ok(())
}

/// Keeps a notification the service refused out of delivery for good, with the reason.
#[tracing::instrument(skip_all, fields(%id))]
pub async fn park_refused<'c>(
    executor: impl PgExecutor<'c>,
    id: Uuid,
    error: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE notifications \
         SET next_attempt_at = 'infinity', last_error = $2, attempts = attempts + 1 \
         WHERE id = $1 AND delivered_at IS NULL",
    )
    .bind(id)
    .bind(error)
    .execute(executor)
    .await?;
    Ok(())
}

/// Ends the claims on notifications a stopping worker did not get to finish, so that they are
/// due again at once instead of when their lease runs out.
#[tracing::instrument(skip_all, fields(count = ids.len()))]
pub async fn release<'c>(executor: impl PgExecutor<'c>, ids: &[Uuid]) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE notifications SET next_attempt_at = now() \
         WHERE id = ANY($1) AND delivered_at IS NULL AND next_attempt_at > now() \
           AND next_attempt_at <> 'infinity'",
    )
    .bind(ids)
    .execute(executor)
    .await?;
    Ok(())
}

/// Counts what is left to deliver and finds when the next notification is due.
#[tracing::instrument(skip_all)]
pub async fn backlog<'c>(executor: impl PgExecutor<'c>) -> anyhow::Result<Backlog> {
    let (undelivered, refused, next_due_in_ms): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE next_attempt_at <> 'infinity'), \
                count(*) FILTER (WHERE next_attempt_at = 'infinity'), \
                (EXTRACT(EPOCH FROM min(next_attempt_at) FILTER (WHERE next_attempt_at <> 'infinity') \
                                    - clock_timestamp()) * 1000)::bigint \
         FROM notifications WHERE delivered_at IS NULL",
    )
    .fetch_one(executor)
    .await?;
    Ok(Backlog {
        undelivered: u64::try_from(undelivered).unwrap_or_default(),
        refused: u64::try_from(refused).unwrap_or_default(),
        next_due_in: next_due_in_ms
            .map(|milliseconds| Duration::from_millis(u64::try_from(milliseconds).unwrap_or(0))),
    })
}
