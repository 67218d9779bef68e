//! Every outcome of a use case other than success, with the code both protocols answer with.

use zayavki_common::ErrorCode;

pub use zayavki_common::validation::FieldViolation;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// One or more fields are wrong; each is named.
    #[error("invalid request: {}", describe(.0))]
    Validation(Vec<FieldViolation>),
    /// No such process, or one the caller may not know about.
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// The process is not in a state that allows the request.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The idempotency key was used before with a different request.
    #[error("request_id {0:?} was already used with a different request")]
    IdempotencyKeyReused(String),
    #[error("the database is unavailable, retry later")]
    Unavailable(#[source] anyhow::Error),
    /// Anything unexpected: logged in full, answered opaquely.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ProcessError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::InvalidArgument,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::IdempotencyKeyReused(_) => ErrorCode::IdempotencyKeyReused,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Validation(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

/// Storage failures: an unreachable database is `Unavailable`, anything else `Internal`.
impl From<anyhow::Error> for ProcessError {
    fn from(error: anyhow::Error) -> Self {
        if zayavki_common::database::is_unreachable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Internal(error)
        }
    }
}

impl From<sqlx::Error> for ProcessError {
    fn from(error: sqlx::Error) -> Self {
        Self::from(anyhow::Error::from(error))
    }
}
