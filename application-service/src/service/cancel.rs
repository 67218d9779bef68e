//! Cancelling an application, by its applicant or an operator.

use super::{Applications, Change, now, storage_error};
use crate::{
    domain::{
        Application, ApplicationError, ApplicationStatus, Caller,
        application::parse_id,
        text::{REASON_MAX_CHARS, parse_multi_line},
    },
    storage::{self, applications::StatusChange},
};

/// Optimistic writes retry this often before reporting a concurrent modification.
pub(super) const MAX_WRITE_ATTEMPTS: usize = 5;

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
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut transaction = self.pool.begin().await.map_err(storage_error)?;
            let current = match storage::applications::find(&mut transaction, id)
                .await
                .map_err(storage_error)?
            {
                Some(application) if caller.may_see(&application.applicant) => application,
                _ => return Err(ApplicationError::NotFound(id.to_string())),
            };
            if !caller.may_cancel(&current.applicant) {
                return Err(ApplicationError::PermissionDenied(
                    "only the applicant or an operator may cancel an application".to_owned(),
                ));
            }
            if current.status == ApplicationStatus::Cancelled {
                return Ok(current);
            }
            if !current.status.can_become(ApplicationStatus::Cancelled) {
                return Err(ApplicationError::InvalidTransition {
                    from: current.status,
                    to: ApplicationStatus::Cancelled,
                });
            }
            let change = StatusChange {
                id,
                expected_version: current.version,
                status: ApplicationStatus::Cancelled,
                at: now(),
                cancel_reason: reason.as_deref(),
                rejection_reason: None,
            };
            if let Some(cancelled) = storage::applications::change_status(&mut transaction, change)
                .await
                .map_err(storage_error)?
            {
                transaction.commit().await.map_err(storage_error)?;
                self.announce_change(Change::Touched(vec![cancelled.id]));
                tracing::info!(id = %cancelled.id, "application cancelled");
                return Ok(cancelled);
            }
        }
        let current_version = self.get(caller, &id.to_string()).await?.version;
        Err(ApplicationError::ConcurrentModification { current_version })
    }
}
