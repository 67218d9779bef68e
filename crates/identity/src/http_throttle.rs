//! Throttling for axum routers: one unit per request, answered with 429 problem+json.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::Throttle;

/// Middleware for `axum::middleware::from_fn_with_state(throttle, throttle_http)` that charges
/// one unit per request to the caller's bucket (see [`crate::ThrottleKey::from_request`]).
///
/// It must run after [`crate::authenticate_http`]: with axum's `.layer(throttle).layer(auth)`,
/// the last layer added runs first. Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so anonymous callers are told apart by
/// address.
pub async fn throttle_http(
    State(throttle): State<Throttle>,
    request: Request,
    next: Next,
) -> Response {
    if throttle.is_enabled() {
        let key = throttle.key(request.extensions(), request.headers());
        if let Err(throttled) = throttle.check(&key, 1) {
            tracing::debug!(%key, path = request.uri().path(), "http request throttled");
            return throttled.into_response();
        }
    }
    next.run(request).await
}
