//! Throttling for tonic servers: one unit per call, answered with `RESOURCE_EXHAUSTED`.

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tower::{Layer, Service};

use crate::{Throttle, ThrottleKey};

/// Charges one unit per call to the caller's bucket (see [`ThrottleKey::from_extensions`]).
/// Add it after [`crate::GrpcAuthLayer`] so the identity is known: with tonic's
/// `Server::builder().layer(auth).layer(throttle)`, the first layer added runs first.
#[derive(Clone, Debug)]
pub struct GrpcThrottleLayer {
    throttle: Throttle,
}

impl GrpcThrottleLayer {
    pub fn new(throttle: Throttle) -> Self {
        Self { throttle }
    }
}

impl<S> Layer<S> for GrpcThrottleLayer {
    type Service = GrpcThrottle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcThrottle {
            inner,
            throttle: self.throttle.clone(),
        }
    }
}

/// The service made by [`GrpcThrottleLayer`].
#[derive(Clone, Debug)]
pub struct GrpcThrottle<S> {
    inner: S,
    throttle: Throttle,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for GrpcThrottle<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
    ResponseBody: Default,
{
    type Response = http::Response<ResponseBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, Self::Error>>, S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        if self.throttle.is_enabled() {
            let key = ThrottleKey::from_extensions(request.extensions());
            if let Err(throttled) = self.throttle.check(&key, 1) {
                tracing::debug!(%key, path = request.uri().path(), "grpc call throttled");
                return Either::Left(ready(Ok(throttled.to_status().into_http())));
            }
        }
        Either::Right(self.inner.call(request))
    }
}
