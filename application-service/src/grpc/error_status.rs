//! Domain errors as gRPC statuses, with `google.rpc.BadRequest` field violations for wrong fields.

use tonic::Status;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::domain::ApplicationError;

impl From<ApplicationError> for Status {
    fn from(error: ApplicationError) -> Self {
        let code = error.code().grpc_code();
        match &error {
            ApplicationError::Validation(violations) => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .iter()
                        .map(|violation| {
                            FieldViolation::new(
                                violation.field.clone(),
                                violation.description.clone(),
                            )
                        })
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(code, error.to_string(), details)
            }
            ApplicationError::Internal(source) => {
                tracing::error!(error = ?source, "request failed");
                Status::new(code, "internal error")
            }
            ApplicationError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Status::new(code, error.to_string())
            }
            _ => Status::new(code, error.to_string()),
        }
    }
}

/// A single wrong field found by the adapter itself (e.g. an unknown enum value).
pub fn invalid_field(field: &str, description: &str) -> Status {
    ApplicationError::invalid(field, description).into()
}
