//! Use-case errors as gRPC statuses, with `google.rpc.BadRequest` field violations for wrong
//! fields.

use tonic::Status;
use zayavki_common::validation::bad_request_status;

use crate::domain::ProcessError;

impl From<ProcessError> for Status {
    fn from(error: ProcessError) -> Self {
        let code = error.code().grpc_code();
        match &error {
            ProcessError::Validation(violations) => {
                bad_request_status(code, error.to_string(), violations)
            }
            ProcessError::Internal(source) => {
                tracing::error!(error = ?source, "request failed");
                Status::new(code, "internal error")
            }
            ProcessError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Status::new(code, error.to_string())
            }
            _ => Status::new(code, error.to_string()),
        }
    }
}
