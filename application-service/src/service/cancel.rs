//! Cancelling an application, by its applicant or an operator.

use super::{Applications, status_write::Decision};
use crate::domain::{
    Application, ApplicationError, ApplicationStatus, Caller,
    application::parse_id,
    text::{REASON_MAX_CHARS, parse_multi_line},
};

impl Applications {
    /// NEW or PROCESSING → CANCELLED. An already cancelled application is returned unchanged.
    #[tracing::instrument(skip(self, reason), fields(caller = %caller.subject))]
    pub async fn cancel(
        &self,
        caller: &Caller,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Application, ApplicationError> {
        super::query::require_role(caller)?;
        let id = parse_id(id).map_err(|why| ApplicationError::invalid("id", why))?;
        let reason = parse_multi_line(reason, REASON_MAX_CHARS)
            .map_err(|why| ApplicationError::invalid("reason", why))?;
        let reason = reason.as_deref();
        self.write_with_retry(id, |current| {
            if !caller.may_see(&current.applicant) {
                return Err(ApplicationError::NotFound(id.to_string()));
            }
            if !caller.may_cancel(&current.applicant) {
                return Err(ApplicationError::PermissionDenied(
                    "only the applicant or an operator may cancel an application".to_owned(),
                ));
            }
            if current.status == ApplicationStatus::Cancelled {
                return Ok(Decision::Unchanged);
            }
            if !current.status.can_become(ApplicationStatus::Cancelled) {
                return Err(ApplicationError::InvalidTransition {
                    from: current.status,
                    to: ApplicationStatus::Cancelled,
                });
            }
            Ok(Decision::Become {
                status: ApplicationStatus::Cancelled,
                cancel_reason: reason,
                rejection_reason: None,
            })
        })
        .await
    }
}
