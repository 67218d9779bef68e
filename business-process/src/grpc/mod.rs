//! The gRPC adapter of `process.v1.BusinessProcessService`: translates protobuf messages to the
//! use cases' input and their results back, nothing more. Rules live in `crate::service` and
//! `crate::domain`.

pub mod convert;
pub mod error_status;
pub mod process;

use tonic::{Request, Status};
use zayavki_identity::identity_from_request;

use crate::service::Caller;

/// The caller the authentication layer verified for this request.
pub fn caller_of<T>(request: &Request<T>) -> Result<Caller, Status> {
    identity_from_request(request).map(Caller::from_identity)
}
