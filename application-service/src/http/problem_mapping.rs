//! Domain errors as problem+json. The status comes from `ErrorCode::http_status`, so REST and
//! gRPC always agree; 500s are logged in full and answered opaquely.

use axum::response::{IntoResponse, Response};
use zayavki_common::{
    ErrorCode,
    problem::{FieldError, Problem},
};

use crate::domain::{ApplicationError, FieldViolation, validation::camel_case_path};

/// A failed use case as problem+json, so handlers answer with `?`.
impl From<ApplicationError> for Problem {
    fn from(error: ApplicationError) -> Self {
        problem(error, Operation::Single)
    }
}

impl IntoResponse for ApplicationError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// A failed batch: wrong-field problems add that nothing was stored.
pub fn batch_problem(error: ApplicationError) -> Problem {
    problem(error, Operation::Batch)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Single,
    Batch,
}

fn problem(error: ApplicationError, operation: Operation) -> Problem {
    let code = error.code();
    match error {
        ApplicationError::Validation(violations) => {
            let errors: Vec<FieldError> = violations.iter().map(field_error).collect();
            let mut detail = count_invalid(errors.len());
            if operation == Operation::Batch {
                detail.push_str("; no application was created");
            }
            detail.push('.');
            Problem::new(code, detail).with_errors(errors)
        }
        ApplicationError::NotFound(id) => {
            Problem::new(code, format!("Application {id} was not found."))
        }
        ApplicationError::IdempotencyKeyReused(_) => Problem::new(
            code,
            "The Idempotency-Key was already used with a different request body.",
        ),
        ApplicationError::Internal(source) => {
            tracing::error!(error = ?source, "request failed");
            internal_error()
        }
        ApplicationError::Unavailable(source) => {
            tracing::warn!(error = %source, "dependency unavailable");
            Problem::new(
                code,
                "A dependency (the database or the search index) is not answering; retry later.",
            )
        }
        other => Problem::new(code, sentence(&other.to_string())),
    }
}

/// The opaque answer to anything unexpected.
pub fn internal_error() -> Problem {
    Problem::new(ErrorCode::Internal, "An internal error occurred.")
}

/// A 400 naming wrong parameters, headers or body fields found by the adapter itself.
pub fn invalid(errors: Vec<FieldError>) -> Problem {
    let detail = format!("{}.", count_invalid(errors.len()));
    Problem::new(ErrorCode::InvalidArgument, detail).with_errors(errors)
}

pub fn field_error(violation: &FieldViolation) -> FieldError {
    FieldError {
        field: rest_field_name(&violation.field),
        message: violation.description.clone(),
    }
}

/// Domain field paths are snake_case; REST names parameters and headers as the document does.
fn rest_field_name(domain_path: &str) -> String {
    match domain_path {
        "request_id" => "Idempotency-Key".to_owned(),
        "text" | "query" => "q".to_owned(),
        other => camel_case_path(other),
    }
}

fn count_invalid(count: usize) -> String {
    match count {
        1 => "1 field is invalid".to_owned(),
        many => format!("{many} fields are invalid"),
    }
}

/// Domain messages are lowercase phrases; problem details are sentences.
fn sentence(phrase: &str) -> String {
    let mut characters = phrase.chars();
    let mut rendered: String = match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => return String::new(),
    };
    if !rendered.ends_with(['.', '!', '?']) {
        rendered.push('.');
    }
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApplicationStatus;

    #[test]
    fn validation_names_fields_in_lower_camel_case() {
        let problem = batch_problem(ApplicationError::Validation(vec![
            FieldViolation::new("applications[1].items[0].unit_price", "bad"),
            FieldViolation::new("request_id", "bad"),
        ]));
        assert_eq!(problem.status, 400);
        assert_eq!(
            problem.detail,
            "2 fields are invalid; no application was created."
        );
        let fields: Vec<_> = problem
            .errors
            .iter()
            .map(|error| error.field.as_str())
            .collect();
        assert_eq!(
            fields,
            ["applications[1].items[0].unitPrice", "Idempotency-Key"]
        );
    }

    #[test]
    fn internal_errors_are_opaque_and_states_are_sentences() {
        let problem = Problem::from(ApplicationError::Internal(anyhow::anyhow!("secret detail")));
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));

        let problem = Problem::from(ApplicationError::InvalidTransition {
            from: ApplicationStatus::Completed,
            to: ApplicationStatus::Cancelled,
        });
        assert_eq!(problem.status, 409);
        assert_eq!(problem.type_uri, "urn:zayavki:problem:failed-precondition");
        assert_eq!(
            problem.detail,
            "Application is COMPLETED and cannot become CANCELLED."
        );
    }
}
