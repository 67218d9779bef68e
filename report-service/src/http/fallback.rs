//! Answers axum would otherwise give as plain text or an empty body, as problem+json (see
//! [`zayavki_common::fallback`]), with report-service's opaque 500.

use std::any::Any;

use axum::{body::Body, response::Response};
pub use zayavki_common::fallback::{method_not_allowed, not_found};
use zayavki_common::{ErrorCode, problem::Problem};

/// A panic in a handler is a bug: logged, answered as an opaque 500.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    zayavki_common::fallback::panic_response(panic, internal_error())
}

/// The opaque answer to a failure whose details are only logged.
pub fn internal_error() -> Problem {
    Problem::new(
        ErrorCode::Internal,
        "Something went wrong on our side; it has been logged.",
    )
}
