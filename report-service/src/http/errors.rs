//! Failures of the report API as problem+json, with the codes application-service uses.

use zayavki_common::{
    ErrorCode,
    database::is_unreachable,
    problem::{FieldError, Problem},
};

use super::fallback::internal_error;

/// 400 naming the wrong parameter.
pub fn invalid(field: &str, message: impl Into<String>) -> Problem {
    Problem::new(
        ErrorCode::InvalidArgument,
        format!("The request has an invalid {field}."),
    )
    .with_errors(vec![FieldError {
        field: field.to_owned(),
        message: message.into(),
    }])
}

/// 404, also for another user's report: its existence is not theirs to know.
pub fn report_not_found(id: &str) -> Problem {
    Problem::new(ErrorCode::NotFound, format!("There is no report {id}."))
}

/// A storage failure: 503 when PostgreSQL or the file store is away, otherwise logged and 500.
pub fn storage_failure(error: anyhow::Error) -> Problem {
    if is_unreachable(&error) {
        tracing::warn!(error = %format!("{error:#}"), "report storage unreachable");
        Problem::new(
            ErrorCode::Unavailable,
            "Report storage is not answering; try again shortly.",
        )
    } else {
        tracing::error!(error = %format!("{error:#}"), "report request failed");
        internal_error()
    }
}
