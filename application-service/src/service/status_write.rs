//! Status changes as optimistic writes: read the application, let the use case decide, write
//! only if the row still has the version that was read, and decide again on the new state when
//! another writer won in between. Two writers never both win, and nobody holds a row lock while
//! deciding.

use uuid::Uuid;

use super::{Applications, Change, now};
use crate::{
    domain::{Application, ApplicationError, ApplicationStatus},
    storage::{self, applications::StatusChange},
};

/// Lost races tolerated before reporting a concurrent modification to the caller.
const MAX_WRITE_ATTEMPTS: usize = 5;

/// What a use case wants done, given the application as it is now. Refusing is an `Err`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Decision<'a> {
    /// Nothing to write: answer with the application as it is (it already has what was asked).
    Unchanged,
    /// Move the application to `status`, recording the reasons that go with it.
    Become {
        status: ApplicationStatus,
        cancel_reason: Option<&'a str>,
        rejection_reason: Option<&'a str>,
    },
}

impl Applications {
    /// Reads application `id` in a transaction, asks `decide` what to do and does it; a write
    /// that loses the version race starts again from the read. The events of the change are
    /// recorded in the same transaction (`after_status_change`) before it commits.
    pub(super) async fn write_with_retry<'a>(
        &self,
        id: Uuid,
        decide: impl Fn(&Application) -> Result<Decision<'a>, ApplicationError>,
    ) -> Result<Application, ApplicationError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut transaction = self.pool.begin().await?;
            let before = storage::applications::find(&mut transaction, id)
                .await?
                .ok_or_else(|| ApplicationError::NotFound(id.to_string()))?;
            let Decision::Become {
                status,
                cancel_reason,
                rejection_reason,
            } = decide(&before)?
            else {
                return Ok(before);
            };
            let change = StatusChange {
                id,
                expected_version: before.version,
                status,
                at: now(),
                cancel_reason,
                rejection_reason,
            };
            let Some(after) =
                storage::applications::change_status(&mut transaction, change).await?
            else {
                continue;
            };
            self.after_status_change(&mut transaction, &before, &after)
                .await?;
            transaction.commit().await?;
            self.announce_change(Change::Touched(vec![after.id]));
            tracing::info!(id = %after.id, from = %before.status, to = %after.status, "application status changed");
            return Ok(after);
        }
        let mut connection = self.pool.acquire().await?;
        let current_version = storage::applications::find(&mut connection, id)
            .await?
            .ok_or_else(|| ApplicationError::NotFound(id.to_string()))?
            .version;
        Err(ApplicationError::ConcurrentModification { current_version })
    }
}
