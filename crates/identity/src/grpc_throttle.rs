//! Throttling for tonic servers: one unit per call, answered with `RESOURCE_EXHAUSTED`.

use tonic::{Request, Status, service::Interceptor};

use crate::Throttle;

/// A tonic interceptor that charges one unit per call to the caller's bucket (see
/// [`crate::ThrottleKey::from_request`]) and refuses with `RESOURCE_EXHAUSTED` and a `retry-after`
/// entry once it is spent. An interceptor sees everything this needs: the request extensions
/// carry the identity and the peer address, and the metadata of a refusing status is sent as
/// response headers.
///
/// Install it server-wide after [`crate::GrpcAuthLayer`], so the identity is known (with
/// tonic's `Server::builder()`, the first layer added runs first):
///
/// ```ignore
/// Server::builder()
///     .layer(GrpcAuthLayer::new(verifier))
///     .layer(InterceptorLayer::new(GrpcThrottle::new(throttle)))
///     .add_service(...)
/// ```
#[derive(Clone, Debug)]
pub struct GrpcThrottle {
    throttle: Throttle,
}

impl GrpcThrottle {
    pub fn new(throttle: Throttle) -> Self {
        Self { throttle }
    }
}

impl Interceptor for GrpcThrottle {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        if self.throttle.is_enabled() {
            let key = self
                .throttle
                .key(request.extensions(), request.metadata().as_ref());
            if let Err(throttled) = self.throttle.check(&key, 1) {
                tracing::debug!(%key, "grpc call throttled");
                return Err(throttled.to_status());
            }
        }
        Ok(request)
    }
}
