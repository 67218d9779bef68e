//! What a report is: its kind and file format (as `report.job` names them) and where its build
//! stands.

use std::str::FromStr;

pub use zayavki_common::report::{ReportFormat, ReportKind};

/// QUEUED (received) → RUNNING (claimed by a worker) → COMPLETED or FAILED. A RUNNING report
/// whose worker died is claimed again when its job is delivered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    /// Nothing more happens to the report.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

impl FromStr for ReportStatus {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "QUEUED" => Ok(Self::Queued),
            "RUNNING" => Ok(Self::Running),
            "COMPLETED" => Ok(Self::Completed),
            "FAILED" => Ok(Self::Failed),
            _ => Err(format!("{raw:?} is not a report status")),
        }
    }
}
