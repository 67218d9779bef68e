//! The use cases of the public API: the one layer the gRPC adapter calls. Each checks the
//! caller's role, validates its input into domain types and runs its statements, writes in one
//! transaction.

mod budget;
mod caller;
mod decide;
mod input;
mod read;
mod report;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use zayavki_common::money::Money;

pub use budget::BudgetView;
pub use caller::Caller;
pub use decide::{Decision, DecisionInput};
pub use read::{ListQuery, Page};
pub use report::{ApplicationStatus, ReportInput};

use crate::{
    domain::{Process, ProcessError},
    storage::{
        budgets::{self, Reservation},
        steps::{self, Step},
    },
};

/// What the use cases decide with.
#[derive(Clone, Debug)]
pub struct ServicePolicy {
    /// The monthly budget of applicants without one of their own.
    pub default_monthly_budget: Money,
}

/// The API's use cases over one PostgreSQL pool. Cheap to clone.
#[derive(Clone)]
pub struct Processes {
    pool: PgPool,
    policy: ServicePolicy,
}

impl Processes {
    pub fn new(pool: PgPool, policy: ServicePolicy) -> Self {
        Self { pool, policy }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A process as the API shows it: with its reservation and, outside listings, its history.
#[derive(Clone, Debug)]
pub struct ProcessView {
    pub process: Process,
    pub reservation: Option<Reservation>,
    /// Oldest first; empty in listings.
    pub steps: Vec<Step>,
}

/// The whole view of one process, read on `connection` (inside a transaction it is what that
/// transaction sees).
async fn full_view(
    connection: &mut PgConnection,
    process: Process,
) -> Result<ProcessView, ProcessError> {
    let reservation = budgets::reservation(&mut *connection, process.application_id).await?;
    let steps = steps::history(&mut *connection, process.application_id).await?;
    Ok(ProcessView {
        process,
        reservation,
        steps,
    })
}

/// An application id as the API receives it.
fn parse_uuid(raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        format!("{raw:?} is not a UUID such as \"0192f0c1-7a4e-7d6b-9c1a-3f2e8b5d4c10\"")
    })
}

fn parse_application_id(raw: &str) -> Result<Uuid, ProcessError> {
    parse_uuid(raw).map_err(|reason| ProcessError::invalid("application_id", reason))
}
