//! The gRPC adapter: translates protobuf messages to domain input and domain results back,
//! nothing more. Rules live in `crate::service` and `crate::domain`.

pub mod applications;
pub mod convert;
pub mod error_status;
pub mod export;
pub mod lifecycle;

use tonic::{Request, Status};
use zayavki_identity::Identity;

use crate::domain::Caller;

/// The caller the authentication layer verified for this request.
pub fn caller_of<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Identity>()
        .map(Caller::from_identity)
        .ok_or_else(|| {
            Status::unauthenticated(
                "missing bearer token: send `authorization: Bearer <jwt>` metadata",
            )
        })
}
