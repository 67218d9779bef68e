//! Answers axum would otherwise give as plain text or an empty body, as problem+json: unknown
//! paths (404), unsupported methods (405, axum adds `Allow`) and panics (500). Each service's
//! router installs them with `fallback`, `method_not_allowed_fallback` and `CatchPanicLayer`.

use std::any::Any;

use axum::{
    body::Body,
    http::{Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};

use crate::{ErrorCode, problem::Problem};

pub async fn not_found(uri: Uri) -> Problem {
    Problem::new(
        ErrorCode::NotFound,
        format!("There is nothing at {}.", uri.path()),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!(
            "{} does not support {method}; see the Allow header.",
            uri.path()
        ),
    )
}

/// A panic in a handler is a bug: logged, answered with the service's opaque 500 `internal`.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>, internal: Problem) -> Response<Body> {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "request handler panicked");
    internal.into_response()
}
