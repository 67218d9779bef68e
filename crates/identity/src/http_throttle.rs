//! Throttling for axum routers: one unit per request, answered with 429 problem+json.

use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use futures::future::{Either, Ready, ready};
use tower::{Layer, Service};

use crate::{Throttle, ThrottleKey};

/// Charges one unit per request to the caller's bucket (see [`ThrottleKey::from_extensions`]).
/// It must run after [`crate::HttpAuthLayer`]: with axum's `.layer(throttle).layer(auth)`, the
/// last layer added runs first. Serve with `into_make_service_with_connect_info::<SocketAddr>()`
/// so anonymous callers are told apart by address.
#[derive(Clone, Debug)]
pub struct HttpThrottleLayer {
    throttle: Throttle,
}

impl HttpThrottleLayer {
    pub fn new(throttle: Throttle) -> Self {
        Self { throttle }
    }
}

impl<S> Layer<S> for HttpThrottleLayer {
    type Service = HttpThrottle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpThrottle {
            inner,
            throttle: self.throttle.clone(),
        }
    }
}

/// The service made by [`HttpThrottleLayer`].
#[derive(Clone, Debug)]
pub struct HttpThrottle<S> {
    inner: S,
    throttle: Throttle,
}

impl<S, RequestBody> Service<http::Request<RequestBody>> for HttpThrottle<S>
where
    S: Service<http::Request<RequestBody>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        if self.throttle.is_enabled() {
            let key = ThrottleKey::from_extensions(request.extensions());
            if let Err(throttled) = self.throttle.check(&key, 1) {
                tracing::debug!(%key, path = request.uri().path(), "http request throttled");
                return Either::Left(ready(Ok(throttled.into_response())));
            }
        }
        Either::Right(self.inner.call(request))
    }
}
