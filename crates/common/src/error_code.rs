//! The outcomes every service reports the same way on gRPC and REST.

use http::StatusCode;
use tonic::Code;

/// A machine-readable outcome with one gRPC code and one HTTP status, so both protocols agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A field, parameter or body is wrong; the details name each one.
    InvalidArgument,
    /// No credentials, or credentials that cannot be trusted.
    Unauthenticated,
    /// Credentials are fine but the caller may not do this.
    PermissionDenied,
    /// The resource does not exist, or the caller may not know it exists.
    NotFound,
    /// An idempotency key was used before with a different request.
    IdempotencyKeyReused,
    /// The resource is in a state that does not allow the operation.
    FailedPrecondition,
    /// A concurrent change won; the caller may read again and retry.
    Aborted,
    /// Too many requests; retry later.
    ResourceExhausted,
    /// A dependency such as the database is not answering.
    Unavailable,
    /// A bug or an unexpected failure; details are logged, not returned.
    Internal,
}

impl ErrorCode {
    pub fn grpc_code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::NotFound => Code::NotFound,
            Self::IdempotencyKeyReused => Code::AlreadyExists,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::Aborted => Code::Aborted,
            Self::ResourceExhausted => Code::ResourceExhausted,
            Self::Unavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
        }
    }

    pub fn http_status(self) -> StatusCode {
        match self {
            Self::InvalidArgument => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::FailedPrecondition | Self::Aborted => StatusCode::CONFLICT,
            Self::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable slug used in problem+json `type` URIs and logs.
    pub fn slug(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid-argument",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission-denied",
            Self::NotFound => "not-found",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::FailedPrecondition => "failed-precondition",
            Self::Aborted => "concurrent-modification",
            Self::ResourceExhausted => "too-many-requests",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// Short human title for problem+json.
    pub fn title(self) -> &'static str {
        match self {
            Self::InvalidArgument => "Invalid request",
            Self::Unauthenticated => "Authentication required",
            Self::PermissionDenied => "Permission denied",
            Self::NotFound => "Not found",
            Self::IdempotencyKeyReused => "Idempotency key reused with a different request",
            Self::FailedPrecondition => "Operation not allowed in the current state",
            Self::Aborted => "Concurrent modification",
            Self::ResourceExhausted => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal error",
        }
    }
}
