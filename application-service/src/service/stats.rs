//! Applications counted per UTC day and status over a period, for charts.

use chrono::Utc;

use super::{Applications, query::require_role};
use crate::{
    domain::{ApplicationError, Caller, DayStats, StatsPeriod},
    storage,
};

/// A count request as any adapter receives it: the filing-date bounds as given.
#[derive(Clone, Debug, Default)]
pub struct StatsQuery {
    pub applied_from: Option<String>,
    pub applied_to: Option<String>,
}

impl Applications {
    /// How many applications of each status the caller may see were filed on each UTC day of
    /// the period, and their total amount; days and statuses without any are left out.
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn day_stats(
        &self,
        caller: &Caller,
        query: StatsQuery,
    ) -> Result<Vec<DayStats>, ApplicationError> {
        require_role(caller)?;
        let period = StatsPeriod::parse(
            query.applied_from.as_deref(),
            query.applied_to.as_deref(),
            Utc::now(),
        )
        .map_err(ApplicationError::Validation)?;
        let mut connection = self.pool.acquire().await?;
        let stats =
            storage::day_stats::day_stats(&mut connection, period, caller.visible_applicant())
                .await?;
        Ok(stats)
    }
}
