//! Idempotency keys: the first request with a key records what it created, in the same
//! transaction; a retry with the same key and body gets the same applications back.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Which use case used a key. Both share one key space per applicant.
#[derive(Clone, Copy, Debug)]
pub enum Operation {
    Create,
    BatchCreate,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::BatchCreate => "batch_create",
        }
    }
}

/// The outcome of claiming a key.
#[derive(Debug)]
pub enum Claim {
    /// Nobody used the key: this transaction owns it now.
    Fresh,
    /// Used before; the caller compares fingerprints.
    Existing {
        fingerprint: Vec<u8>,
        application_ids: Vec<Uuid>,
    },
}

/// Claims `request_id` for `application_ids`. A concurrent claim of the same key waits for the
/// first transaction and then sees its result.
#[tracing::instrument(skip(connection, fingerprint, application_ids))]
pub async fn claim(
    connection: &mut PgConnection,
    applicant: &str,
    operation: Operation,
    request_id: &str,
    fingerprint: &[u8],
    application_ids: &[Uuid],
) -> anyhow::Result<Claim> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (applicant, operation, request_id, request_fingerprint, application_ids) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(applicant)
    .bind(operation.as_str())
    .bind(request_id)
    .bind(fingerprint)
    .bind(application_ids)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (fingerprint, application_ids): (Vec<u8>, Vec<Uuid>) = sqlx::query_as(
        "SELECT request_fingerprint, application_ids FROM idempotency_keys \
         WHERE applicant = $1 AND request_id = $2",
    )
    .bind(applicant)
    .bind(request_id)
    .fetch_one(&mut *connection)
    .await?;
    Ok(Claim::Existing {
        fingerprint,
        application_ids,
    })
}

/// Forgets keys older than `retention`.
#[tracing::instrument(skip(pool))]
pub async fn delete_expired(pool: &PgPool, retention: Duration) -> anyhow::Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(retention.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected();
    Ok(deleted)
}
