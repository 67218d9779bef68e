//! Applications counted per UTC calendar day and status, in one aggregate statement.

use chrono::NaiveDate;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::applications::push_filter;
use crate::domain::{AmountSum, ApplicationStatus, DayStats, ListFilter, StatsPeriod};

#[derive(sqlx::FromRow)]
struct DayStatsRow {
    day: NaiveDate,
    status: String,
    count: i64,
    /// The exact sum of minor units as decimal digits: PostgreSQL sums `bigint` as `numeric`,
    /// which no Rust integer type decodes.
    total_amount_minor: String,
}

/// One row per (UTC day of `applied_at`, status) with at least one application in `period`
/// that `applicant` (when given) filed; by day, then status in lifecycle order.
#[tracing::instrument(skip(connection))]
pub async fn day_stats(
    connection: &mut PgConnection,
    period: StatsPeriod,
    applicant: Option<&str>,
) -> anyhow::Result<Vec<DayStats>> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT (applied_at AT TIME ZONE 'UTC')::date AS day, status, count(*) AS count, \
         sum(total_amount_minor)::text AS total_amount_minor \
         FROM applications WHERE TRUE",
    );
    let filter = ListFilter {
        applied: period.applied,
        statuses: Vec::new(),
    };
    push_filter(&mut query, &filter, applicant);
    let lifecycle_order: Vec<&'static str> = ApplicationStatus::ALL
        .iter()
        .map(|status| status.as_str())
        .collect();
    query
        .push(" GROUP BY day, status ORDER BY day, array_position(")
        .push_bind(lifecycle_order)
        .push("::text[], status)");
    let rows: Vec<DayStatsRow> = query.build_query_as().fetch_all(connection).await?;
    rows.into_iter().map(DayStats::try_from).collect()
}

impl TryFrom<DayStatsRow> for DayStats {
    type Error = anyhow::Error;

    fn try_from(row: DayStatsRow) -> anyhow::Result<Self> {
        Ok(DayStats {
            day: row.day,
            status: row.status.parse().map_err(anyhow::Error::msg)?,
            count: u64::try_from(row.count)?,
            total_amount: AmountSum(row.total_amount_minor.parse().map_err(|error| {
                anyhow::anyhow!(
                    "sum of totals {:?} is not a non-negative integer: {error}",
                    row.total_amount_minor
                )
            })?),
        })
    }
}
