//! Domain errors as gRPC statuses, with `google.rpc.BadRequest` field violations for wrong fields.

use tonic::Status;
use zayavki_common::validation::bad_request_status;

use crate::domain::ApplicationError;

impl From<ApplicationError> for Status {
    fn from(error: ApplicationError) -> Self {
        let code = error.code().grpc_code();
        match &error {
            ApplicationError::Validation(violations) => {
                bad_request_status(code, error.to_string(), violations)
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
