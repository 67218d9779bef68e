//! The budget ledger: monthly limits per applicant and the reservations held against them.
//!
//! A reservation is RESERVED while its application is in progress, COMMITTED once it is
//! completed and RELEASED when it is rejected or cancelled (the compensation). What an applicant
//! has used of a month is everything RESERVED or COMMITTED in it. Reservations of one applicant
//! and month are serialised by locking that month's row, so two reservations never both fit
//! into the last of a budget.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;
use zayavki_common::money::Money;

use crate::domain::Month;

/// What reserving found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Held now.
    Now,
    /// Held already (a step taken again after a crash).
    Already,
    /// It does not fit: the limit and what was used before.
    OverBudget { limit: Money, used: Money },
}

/// A reservation as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub amount: Money,
    pub month: Month,
    pub state: String,
}

/// How much of a month is held and spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub reserved: Money,
    pub committed: Money,
}

/// The applicant's own monthly limit, if one was set.
pub async fn limit<'e>(
    executor: impl PgExecutor<'e>,
    applicant: &str,
) -> anyhow::Result<Option<Money>> {
    let minor: Option<i64> =
        sqlx::query_scalar("SELECT monthly_limit_minor FROM budgets WHERE applicant = $1")
            .bind(applicant)
            .fetch_optional(executor)
            .await?;
    Ok(minor.and_then(Money::from_minor))
}

pub async fn set_limit<'e>(
    executor: impl PgExecutor<'e>,
    applicant: &str,
    limit: Money,
    set_by: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO budgets (applicant, monthly_limit_minor, updated_by) VALUES ($1, $2, $3) \
         ON CONFLICT (applicant) DO UPDATE SET monthly_limit_minor = $2, updated_by = $3, \
         updated_at = now()",
    )
    .bind(applicant)
    .bind(limit.minor())
    .bind(set_by)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn usage<'e>(
    executor: impl PgExecutor<'e>,
    applicant: &str,
    month: Month,
) -> anyhow::Result<Usage> {
    let (reserved, committed): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(amount_minor) FILTER (WHERE state = 'RESERVED'), 0)::bigint, \
                COALESCE(sum(amount_minor) FILTER (WHERE state = 'COMMITTED'), 0)::bigint \
         FROM reservations WHERE applicant = $1 AND month = $2 AND state <> 'RELEASED'",
    )
    .bind(applicant)
    .bind(month.first_day())
    .fetch_one(executor)
    .await?;
    Ok(Usage {
        reserved: Money::from_minor(reserved).unwrap_or(Money::ZERO),
        committed: Money::from_minor(committed).unwrap_or(Money::ZERO),
    })
}

/// Holds `amount` of `applicant`'s budget for `month` for `application_id`, if it fits under
/// their limit (`default_limit` when they have none).
///
/// Two statements: the first creates or locks the month's row and reads what is used of it (the
/// running total), the limit and whether the reservation exists; the second inserts the
/// reservation and adds it to the total. The lock is held until the caller's transaction ends.
pub async fn reserve(
    connection: &mut PgConnection,
    application_id: Uuid,
    applicant: &str,
    month: Month,
    amount: Money,
    default_limit: Money,
) -> anyhow::Result<Reserved> {
    let (used, own_limit, exists): (i64, Option<i64>, bool) = sqlx::query_as(
        "WITH month AS ( \
             INSERT INTO budget_months (applicant, month) VALUES ($2, $3) \
             ON CONFLICT (applicant, month) DO UPDATE SET used_minor = budget_months.used_minor \
             RETURNING used_minor) \
         SELECT month.used_minor, \
                (SELECT monthly_limit_minor FROM budgets WHERE applicant = $2), \
                EXISTS (SELECT 1 FROM reservations WHERE application_id = $1) \
         FROM month",
    )
    .bind(application_id)
    .bind(applicant)
    .bind(month.first_day())
    .fetch_one(&mut *connection)
    .await?;
    if exists {
        return Ok(Reserved::Already);
    }
    let limit = own_limit
        .and_then(Money::from_minor)
        .unwrap_or(default_limit);
    let used = Money::from_minor(used)
        .ok_or_else(|| anyhow::anyhow!("negative budget usage of {applicant} in {month}"))?;
    let fits = used.plus(amount).is_some_and(|total| total <= limit);
    if !fits {
        return Ok(Reserved::OverBudget { limit, used });
    }
    sqlx::query(
        "WITH held AS ( \
             INSERT INTO reservations (application_id, applicant, month, amount_minor, state) \
             VALUES ($1, $2, $3, $4, 'RESERVED') RETURNING amount_minor) \
         UPDATE budget_months SET used_minor = used_minor + (SELECT amount_minor FROM held) \
         WHERE applicant = $2 AND month = $3",
    )
    .bind(application_id)
    .bind(applicant)
    .bind(month.first_day())
    .bind(amount.minor())
    .execute(connection)
    .await?;
    Ok(Reserved::Now)
}

/// RESERVED → COMMITTED; false when there was nothing reserved. What is used of the month does
/// not change: a committed amount stays used.
pub async fn commit(connection: &mut PgConnection, application_id: Uuid) -> anyhow::Result<bool> {
    let changed = sqlx::query(
        "UPDATE reservations SET state = 'COMMITTED', updated_at = now() \
         WHERE application_id = $1 AND state = 'RESERVED'",
    )
    .bind(application_id)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// RESERVED → RELEASED (the compensation), the amount taken off what is used of its month; false
/// when there was nothing reserved.
pub async fn release(connection: &mut PgConnection, application_id: Uuid) -> anyhow::Result<bool> {
    let released: i64 = sqlx::query_scalar(
        "WITH released AS ( \
             UPDATE reservations SET state = 'RELEASED', updated_at = now() \
             WHERE application_id = $1 AND state = 'RESERVED' \
             RETURNING applicant, month, amount_minor), \
         freed AS ( \
             UPDATE budget_months SET used_minor = budget_months.used_minor - released.amount_minor \
             FROM released \
             WHERE budget_months.applicant = released.applicant \
               AND budget_months.month = released.month) \
         SELECT count(*) FROM released",
    )
    .bind(application_id)
    .fetch_one(connection)
    .await?;
    Ok(released == 1)
}

pub async fn reservation<'e>(
    executor: impl PgExecutor<'e>,
    application_id: Uuid,
) -> anyhow::Result<Option<Reservation>> {
    let row: Option<(i64, chrono::NaiveDate, String)> = sqlx::query_as(
        "SELECT amount_minor, month, state FROM reservations WHERE application_id = $1",
    )
    .bind(application_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(amount, month, state)| Reservation {
        amount: Money::from_minor(amount).unwrap_or(Money::ZERO),
        month: Month::from_first_day(month),
        state,
    }))
}
