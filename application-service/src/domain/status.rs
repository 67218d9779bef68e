//! The lifecycle of an application and the transitions it allows.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApplicationStatus {
    New,
    Processing,
    Completed,
    Cancelled,
    Rejected,
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 5] = [
        Self::New,
        Self::Processing,
        Self::Completed,
        Self::Cancelled,
        Self::Rejected,
    ];

    /// The name used in the database, REST and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
        }
    }

    /// Whether a change from `self` to `target` is allowed. Staying put is handled by callers
    /// (it is an idempotent no-op), so it is not a transition here.
    pub fn can_become(self, target: ApplicationStatus) -> bool {
        use ApplicationStatus::*;
        matches!(
            (self, target),
            (New, Processing)
                | (Processing, Completed)
                | (Processing, Rejected)
                | (New, Cancelled)
                | (Processing, Cancelled)
        )
    }
}

impl fmt::Display for ApplicationStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ApplicationStatus {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "{raw:?} is not a status; expected one of NEW, PROCESSING, COMPLETED, CANCELLED, REJECTED"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::ApplicationStatus::*;

    #[test]
    fn lifecycle_transitions() {
        assert!(New.can_become(Processing));
        assert!(Processing.can_become(Completed));
        assert!(Processing.can_become(Rejected));
        assert!(New.can_become(Cancelled));
        assert!(Processing.can_become(Cancelled));
        assert!(!New.can_become(Completed));
        assert!(!Completed.can_become(Cancelled));
        assert!(!Rejected.can_become(Cancelled));
        assert!(!Cancelled.can_become(Processing));
    }

    #[test]
    fn parses_its_own_names_only() {
        for status in super::ApplicationStatus::ALL {
            assert_eq!(
                status.as_str().parse::<super::ApplicationStatus>(),
                Ok(status)
            );
        }
        assert!("new".parse::<super::ApplicationStatus>().is_err());
    }
}
