//! What the databases say after the orchestrated phase: that every application ended COMPLETED
//! exactly once on both sides, and how long each took from its filing to its completion.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// One verified property: how many of the applications have it.
pub struct Check {
    pub what: &'static str,
    pub matching: usize,
    pub expected: usize,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.matching == self.expected
    }
}

/// Lag from each application's filing (`applied_at`, also its `application.created` event's
/// `occurredAt`) to its completion.
pub struct Lags {
    /// To the `application.completed` step recorded by business-process.
    pub recorded: Percentiles,
    /// To the moment this process received the COMPLETED notification (after the commit).
    pub seen: Option<Percentiles>,
}

#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// Exact percentiles (nearest rank) of `lags`; `None` when empty.
    pub fn of(mut lags: Vec<Duration>) -> Option<Self> {
        if lags.is_empty() {
            return None;
        }
        lags.sort_unstable();
        let rank = |quantile: f64| {
            let index = (quantile * lags.len() as f64).ceil() as usize;
            lags[index.clamp(1, lags.len()) - 1]
        };
        Some(Self {
            count: lags.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: lags[lags.len() - 1],
        })
    }
}

/// The checks of the brief: processes COMPLETED, one `application.completed` step each,
/// application-service's status COMPLETED, one report request each; and one notification each.
pub async fn completed_exactly_once(
    applications: &PgPool,
    process: &PgPool,
    ids: &[Uuid],
) -> anyhow::Result<Vec<Check>> {
    let expected = ids.len();
    let distinct = ids.iter().collect::<HashSet<_>>().len();
    let processes_completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM processes WHERE state = 'COMPLETED' AND application_id = ANY($1)",
    )
    .bind(ids)
    .fetch_one(process)
    .await?;
    let completed_steps = once_each(
        process,
        "SELECT application_id, count(*) FROM process_steps \
         WHERE step = 'application.completed' AND application_id = ANY($1) GROUP BY 1",
        ids,
    )
    .await?;
    let statuses_completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM applications WHERE status = 'COMPLETED' AND id = ANY($1)",
    )
    .bind(ids)
    .fetch_one(applications)
    .await?;
    let report_requests = once_each(
        process,
        "SELECT application_id, count(*) FROM report_requests \
         WHERE application_id = ANY($1) GROUP BY 1",
        ids,
    )
    .await?;
    let notifications = once_each(
        process,
        "SELECT application_id, count(*) FROM notifications \
         WHERE application_id = ANY($1) GROUP BY 1",
        ids,
    )
    .await?;
    let count = |value: i64| usize::try_from(value).unwrap_or(usize::MAX);
    Ok(vec![
        Check {
            what: "distinct applications filed",
            matching: distinct,
            expected,
        },
        Check {
            what: "processes COMPLETED",
            matching: count(processes_completed),
            expected,
        },
        Check {
            what: "exactly one application.completed step",
            matching: completed_steps,
            expected,
        },
        Check {
            what: "application-service status COMPLETED",
            matching: count(statuses_completed),
            expected,
        },
        Check {
            what: "exactly one purchase report request",
            matching: report_requests,
            expected,
        },
        Check {
            what: "exactly one notification queued",
            matching: notifications,
            expected,
        },
    ])
}

/// How many of `ids` appear exactly once in `(application_id, count)` rows of `statement`.
async fn once_each(pool: &PgPool, statement: &str, ids: &[Uuid]) -> anyhow::Result<usize> {
    let counts: Vec<(Uuid, i64)> = sqlx::query_as(statement).bind(ids).fetch_all(pool).await?;
    Ok(counts.iter().filter(|(_, count)| *count == 1).count())
}

/// Lags of `ids`: filing time from application-service's database, completion from
/// business-process's (`process_steps.at` is its transaction's start, `now()`: a few
/// milliseconds before the commit) and from the notifications `seen`.
pub async fn lags(
    applications: &PgPool,
    process: &PgPool,
    ids: &[Uuid],
    seen: &HashMap<Uuid, DateTime<Utc>>,
) -> anyhow::Result<Lags> {
    let filed: HashMap<Uuid, DateTime<Utc>> =
        sqlx::query_as("SELECT id, applied_at FROM applications WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(applications)
            .await?
            .into_iter()
            .collect();
    let recorded: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT application_id, max(at) FROM process_steps \
         WHERE step = 'application.completed' AND application_id = ANY($1) GROUP BY 1",
    )
    .bind(ids)
    .fetch_all(process)
    .await?;
    let lag = |id: &Uuid, completed: &DateTime<Utc>| {
        filed
            .get(id)
            .map(|filed_at| (*completed - *filed_at).to_std().unwrap_or_default())
    };
    let recorded = recorded.iter().filter_map(|(id, at)| lag(id, at)).collect();
    let seen = ids
        .iter()
        .filter_map(|id| seen.get(id).and_then(|at| lag(id, at)))
        .collect();
    Ok(Lags {
        recorded: Percentiles::of(recorded)
            .ok_or_else(|| anyhow::anyhow!("no application.completed step was recorded"))?,
        seen: Percentiles::of(seen),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_ranks() {
        let lags = (1..=200).map(Duration::from_millis).collect();
        let percentiles = Percentiles::of(lags).expect("not empty");
        assert_eq!(percentiles.count, 200);
        assert_eq!(percentiles.p50, Duration::from_millis(100));
        assert_eq!(percentiles.p99, Duration::from_millis(198));
        assert_eq!(percentiles.max, Duration::from_millis(200));
        assert!(Percentiles::of(Vec::new()).is_none());
    }
}
