//! Every outcome of a use case other than success, with the code both protocols answer with.

use zayavki_common::ErrorCode;

use super::{status::ApplicationStatus, validation::FieldViolation};

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// One or more fields are wrong; each is named.
    #[error("{}", describe_violations(.0))]
    Validation(Vec<FieldViolation>),
    /// No such application, or one the caller may not know about.
    #[error("application {0} not found")]
    NotFound(String),
    /// The caller's role does not allow the operation.
    #[error("{0}")]
    PermissionDenied(String),
    /// The idempotency key was used before with a different request.
    #[error("request_id {0:?} was already used with a different request")]
    IdempotencyKeyReused(String),
    /// The status does not allow the change.
    #[error("application is {from} and cannot become {to}")]
    InvalidTransition {
        from: ApplicationStatus,
        to: ApplicationStatus,
    },
    /// The caller expected another version, or concurrent writers kept winning.
    #[error(
        "application was changed concurrently (now at version {current_version}); read it again and retry"
    )]
    ConcurrentModification { current_version: i64 },
    /// The database is not answering.
    #[error("the database is unavailable, retry later")]
    Unavailable(#[source] anyhow::Error),
    /// Anything unexpected: logged in full, answered opaquely.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApplicationError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::InvalidArgument,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::IdempotencyKeyReused(_) => ErrorCode::IdempotencyKeyReused,
            Self::InvalidTransition { .. } => ErrorCode::FailedPrecondition,
            Self::ConcurrentModification { .. } => ErrorCode::Aborted,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Validation(vec![FieldViolation::new(field, description)])
    }

    /// The answer to a caller whose token carries no role at all.
    pub fn no_role() -> Self {
        Self::PermissionDenied(
            "the token carries no role (applicant, operator or service)".to_owned(),
        )
    }
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    match violations {
        [] => "invalid request".to_owned(),
        [only] => format!("invalid request: {only}"),
        [first, rest @ ..] => format!("invalid request: {first} (and {} more)", rest.len()),
    }
}

/// Storage failures, the one place they are classified: an unreachable database is
/// `Unavailable` (the caller may retry), anything else `Internal`. Both keep the whole error
/// for the log; neither shows it to the caller.
impl From<anyhow::Error> for ApplicationError {
    fn from(error: anyhow::Error) -> Self {
        if zayavki_common::database::is_unreachable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Internal(error)
        }
    }
}

impl From<sqlx::Error> for ApplicationError {
    fn from(error: sqlx::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_unavailable_wherever_it_is_in_the_chain() {
        let timed_out = anyhow::Error::from(sqlx::Error::PoolTimedOut).context("reading");
        assert_eq!(
            ApplicationError::from(timed_out).code(),
            ErrorCode::Unavailable
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ApplicationError::from(sqlx::Error::Io(refused)).code(),
            ErrorCode::Unavailable
        );
    }

    #[test]
    fn anything_else_is_internal() {
        assert_eq!(
            ApplicationError::from(sqlx::Error::RowNotFound).code(),
            ErrorCode::Internal
        );
        assert_eq!(
            ApplicationError::from(anyhow::anyhow!("COPY inserted 1 rows, expected 2")).code(),
            ErrorCode::Internal
        );
    }
}
