//! Monthly budgets: what an applicant may spend, and what is held and spent of it.
//!
//! An applicant sees only their own budget; asking for someone else's is answered as missing
//! (`NOT_FOUND`), as another applicant's process is. Operators and services see every budget,
//! and only operators set them.

use chrono::Utc;
use sqlx::PgConnection;
use zayavki_common::money::Money;

use super::{
    Caller, Processes,
    input::{Violations, parse_applicant},
};
use crate::{
    domain::{Month, ProcessError},
    storage::budgets,
};

/// One applicant's budget for one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetView {
    pub applicant: String,
    pub month: Month,
    pub monthly_limit: Money,
    /// True when the applicant has no limit of their own and the default applies.
    pub default_limit: bool,
    pub reserved: Money,
    pub committed: Money,
    /// The limit less what is reserved and committed, never below zero.
    pub available: Money,
}

impl Processes {
    /// `applicant` and `month` default to the caller and the current month (UTC).
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn budget(
        &self,
        caller: &Caller,
        applicant: &str,
        month: &str,
    ) -> Result<BudgetView, ProcessError> {
        caller.require_any_role()?;
        let mut violations = Violations::new();
        let applicant = match applicant.trim() {
            "" => Some(caller.subject.clone()),
            named => violations.check("applicant", parse_applicant(named)),
        };
        let month = match month.trim() {
            "" => Some(Month::of(Utc::now())),
            named => violations.check("month", named.parse::<Month>()),
        };
        let (applicant, month) = violations.into_result(|| applicant.zip(month))?;
        if !caller.may_see(&applicant) {
            return Err(ProcessError::NotFound(format!("budget of {applicant:?}")));
        }
        let mut connection = self.pool.acquire().await?;
        self.read_budget(&mut connection, applicant, month).await
    }

    /// Operators only; answers with the budget of the current month (UTC).
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn set_budget(
        &self,
        caller: &Caller,
        applicant: &str,
        monthly_limit: &str,
    ) -> Result<BudgetView, ProcessError> {
        caller.require_operator("set budgets")?;
        let mut violations = Violations::new();
        let applicant = violations.check("applicant", parse_applicant(applicant));
        let limit = violations.check("monthly_limit", Money::parse_amount(monthly_limit.trim()));
        let (applicant, limit) = violations.into_result(|| applicant.zip(limit))?;
        let mut transaction = self.pool.begin().await?;
        budgets::set_limit(&mut *transaction, &applicant, limit, &caller.subject).await?;
        let view = self
            .read_budget(&mut transaction, applicant, Month::of(Utc::now()))
            .await?;
        transaction.commit().await?;
        tracing::info!(applicant = %view.applicant, limit = %limit, "budget set");
        Ok(view)
    }

    async fn read_budget(
        &self,
        connection: &mut PgConnection,
        applicant: String,
        month: Month,
    ) -> Result<BudgetView, ProcessError> {
        let own_limit = budgets::limit(&mut *connection, &applicant).await?;
        let usage = budgets::usage(&mut *connection, &applicant, month).await?;
        let monthly_limit = own_limit.unwrap_or(self.policy.default_monthly_budget);
        let used = usage
            .reserved
            .minor()
            .saturating_add(usage.committed.minor());
        let available =
            Money::from_minor(monthly_limit.minor().saturating_sub(used)).unwrap_or(Money::ZERO);
        Ok(BudgetView {
            applicant,
            month,
            monthly_limit,
            default_limit: own_limit.is_none(),
            reserved: usage.reserved,
            committed: usage.committed,
            available,
        })
    }
}
