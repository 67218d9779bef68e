//! The internal lifecycle the business process drives: NEW → PROCESSING → COMPLETED/REJECTED.

use super::{Applications, Change, cancel::MAX_WRITE_ATTEMPTS, now, storage_error};
use crate::{
    domain::{
        Application, ApplicationError, ApplicationStatus, Caller,
        application::parse_id,
        text::{REASON_MAX_CHARS, parse_multi_line},
    },
    storage::{self, applications::StatusChange},
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
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut transaction = self.pool.begin().await.map_err(storage_error)?;
            let current = storage::applications::find(&mut transaction, id)
                .await
                .map_err(storage_error)?
                .ok_or_else(|| ApplicationError::NotFound(id.to_string()))?;
            if current.status == target {
                return Ok(current);
            }
            if let Some(expected) = transition.expected_version
                && expected != current.version
            {
                return Err(ApplicationError::ConcurrentModification {
                    current_version: current.version,
                });
            }
            if !current.status.can_become(target) || target == ApplicationStatus::Cancelled {
                return Err(ApplicationError::InvalidTransition {
                    from: current.status,
                    to: target,
                });
            }
            let change = StatusChange {
                id,
                expected_version: current.version,
                status: target,
                at: now(),
                cancel_reason: None,
                rejection_reason: (target == ApplicationStatus::Rejected)
                    .then_some(reason.as_deref())
                    .flatten(),
            };
            if let Some(changed) = storage::applications::change_status(&mut transaction, change)
                .await
                .map_err(storage_error)?
            {
                transaction.commit().await.map_err(storage_error)?;
                self.announce_change(Change::Touched(vec![changed.id]));
                tracing::info!(id = %changed.id, status = %changed.status, "application moved");
                return Ok(changed);
            }
        }
        let mut connection = self.pool.acquire().await.map_err(storage_error)?;
        let current_version = storage::applications::find(&mut connection, id)
            .await
            .map_err(storage_error)?
            .map_or(0, |application| application.version);
        Err(ApplicationError::ConcurrentModification { current_version })
    }
}
