//! The internal lifecycle the business process drives: NEW → PROCESSING → COMPLETED/REJECTED.

use super::{Applications, status_write::Decision};
use crate::domain::{
    Application, ApplicationError, ApplicationStatus, Caller,
    application::parse_id,
    text::{REASON_MAX_CHARS, parse_multi_line},
};

/// A requested lifecycle move.
#[derive(Clone, Debug)]
pub struct Transition<'a> {
    pub id: &'a str,
    pub target: ApplicationStatus,
    pub expected_version: Option<i64>,
    pub reason: Option<&'a str>,
}

impl Applications {
    /// Moves an application to `target`. Asking for the status it already has returns it
    /// unchanged, so the business process may retry safely.
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn transition(
        &self,
        caller: &Caller,
        transition: Transition<'_>,
    ) -> Result<Application, ApplicationError> {
        if !caller.may_drive_lifecycle() {
            return Err(ApplicationError::PermissionDenied(
                "only internal services drive the application lifecycle".to_owned(),
            ));
        }
        let id = parse_id(transition.id).map_err(|why| ApplicationError::invalid("id", why))?;
        let reason = parse_multi_line(transition.reason, REASON_MAX_CHARS)
            .map_err(|why| ApplicationError::invalid("reason", why))?;
        let target = transition.target;
        let rejection_reason = reason
            .as_deref()
            .filter(|_| target == ApplicationStatus::Rejected);
        self.write_with_retry(id, |current| {
            if current.status == target {
                return Ok(Decision::Unchanged);
            }
            if let Some(expected) = transition.expected_version
                && expected != current.version
            {
                return Err(ApplicationError::ConcurrentModification {
                    current_version: current.version,
                });
            }
            // Cancelling is the applicant's or an operator's call, never the process's.
            if !current.status.can_become(target) || target == ApplicationStatus::Cancelled {
                return Err(ApplicationError::InvalidTransition {
                    from: current.status,
                    to: target,
                });
            }
            Ok(Decision::Become {
                status: target,
                cancel_reason: None,
                rejection_reason,
            })
        })
        .await
    }
}
