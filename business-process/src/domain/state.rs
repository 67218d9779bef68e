//! The states of a process. Four of them have work to do (the driver picks those up); three are
//! final.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// Filed: to be moved to PROCESSING and checked against the budget.
    Starting,
    /// Above the auto-approve limit: waits for an operator until the deadline.
    AwaitingDecision,
    /// Approved: the application is to be completed.
    Approving,
    /// Rejected (budget, operator or deadline): the application is to be rejected.
    Rejecting,
    /// The application was cancelled: the reservation is to be released.
    Cancelling,
    Completed,
    Rejected,
    Cancelled,
}

impl ProcessState {
    pub const ALL: [ProcessState; 8] = [
        Self::Starting,
        Self::AwaitingDecision,
        Self::Approving,
        Self::Rejecting,
        Self::Cancelling,
        Self::Completed,
        Self::Rejected,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::AwaitingDecision => "AWAITING_DECISION",
            Self::Approving => "APPROVING",
            Self::Rejecting => "REJECTING",
            Self::Cancelling => "CANCELLING",
            Self::Completed => "COMPLETED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The process has nothing more to do.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Cancelled)
    }

    /// The driver has a step to take in this state.
    pub fn has_work(self) -> bool {
        matches!(
            self,
            Self::Starting | Self::Approving | Self::Rejecting | Self::Cancelling
        )
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ProcessState {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == raw)
            .ok_or_else(|| format!("unknown process state {raw:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_states_split_into_work_waiting_and_final() {
        for state in ProcessState::ALL {
            assert_eq!(state.as_str().parse::<ProcessState>(), Ok(state));
            let kinds = [
                state.has_work(),
                state.is_final(),
                state == ProcessState::AwaitingDecision,
            ];
            assert_eq!(kinds.iter().filter(|kind| **kind).count(), 1, "{state}");
        }
        assert!("PROCESSING".parse::<ProcessState>().is_err());
    }
}
