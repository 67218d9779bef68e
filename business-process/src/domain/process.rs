//! One application's process as stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use zayavki_common::money::Money;

use super::{Month, ProcessState};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub application_id: Uuid,
    pub applicant: String,
    pub title: String,
    pub total_amount: Money,
    pub applied_at: DateTime<Utc>,
    pub state: ProcessState,
    pub reason: Option<String>,
    /// The latest application version taken into account.
    pub application_version: i64,
    pub version: i64,
    pub decision_due_at: Option<DateTime<Utc>>,
    pub purchase_report_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Events of the application that arrived ahead of their predecessor may be waiting for
    /// this process (as read with it; a new process may have some).
    pub early_events: bool,
}

impl Process {
    /// The budget month the total is reserved against.
    pub fn budget_month(&self) -> Month {
        Month::of(self.applied_at)
    }

    /// Moves to `state` for `reason`.
    pub fn move_to(&mut self, state: ProcessState, reason: Option<String>) {
        self.state = state;
        if reason.is_some() {
            self.reason = reason;
        }
    }

    /// Takes application version `version` into account (answers and events may come in any
    /// order; the version only goes up).
    pub fn saw_version(&mut self, version: i64) {
        self.application_version = self.application_version.max(version);
    }
}
