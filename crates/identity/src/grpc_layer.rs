//! Authentication for tonic servers: a tower layer that verifies the `authorization` metadata
//! before the request reaches any service, and a helper for handlers to read the result.

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tower::{Layer, Service};

use crate::{AuthError, Identity, PublicPaths, TokenVerifier, bearer::bearer_token};

/// Verifies the bearer token of every call except public paths (health checking and reflection
/// by default), puts the [`Identity`] into the request extensions (tonic hands them to
/// `tonic::Request::extensions()`), and answers `UNAUTHENTICATED` itself otherwise.
///
/// ```ignore
/// Server::builder()
///     .layer(GrpcAuthLayer::new(verifier))
///     .layer(GrpcThrottleLayer::new(throttle)) // after auth: keys on the identity
///     .add_service(...)
/// ```
#[derive(Clone, Debug)]
pub struct GrpcAuthLayer {
    verifier: TokenVerifier,
    public: PublicPaths,
}

impl GrpcAuthLayer {
    pub fn new(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            public: PublicPaths::grpc_defaults(),
        }
    }

    /// Replaces the default public paths (health checking and reflection).
    pub fn with_public_paths(mut self, public: PublicPaths) -> Self {
        self.public = public;
        self
    }
}

impl<S> Layer<S> for GrpcAuthLayer {
    type Service = GrpcAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuth {
            inner,
            verifier: self.verifier.clone(),
            public: self.public.clone(),
        }
    }
}

/// The service made by [`GrpcAuthLayer`].
#[derive(Clone, Debug)]
pub struct GrpcAuth<S> {
    inner: S,
    verifier: TokenVerifier,
    public: PublicPaths,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for GrpcAuth<S>
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

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        let outcome = bearer_token(request.headers()).and_then(|token| self.verifier.verify(token));
        match outcome {
            Ok(identity) => {
                request.extensions_mut().insert(identity);
            }
            Err(_) if self.public.is_public(request.uri().path()) => {}
            Err(error) => {
                tracing::debug!(path = request.uri().path(), %error, "grpc call refused");
                return Either::Left(ready(Ok(error.to_status().into_http())));
            }
        }
        Either::Right(self.inner.call(request))
    }
}

/// The caller verified by [`GrpcAuthLayer`], or `UNAUTHENTICATED` when the layer did not run
/// for this call (a public path).
pub fn identity_from_request<T>(request: &tonic::Request<T>) -> Result<&Identity, tonic::Status> {
    request
        .extensions()
        .get::<Identity>()
        .ok_or_else(|| AuthError::Missing.to_status())
}
