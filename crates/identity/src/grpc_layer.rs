//! Authentication for tonic servers: a tower layer that verifies the `authorization` metadata
//! before the request reaches any service, and a helper for handlers to read the result.

use std::task::{Context, Poll};

use axum::{
    BoxError,
    body::{Bytes, HttpBody},
};
use futures::{
    TryFutureExt,
    future::{Either, MapOk, Ready, ready},
};
use tower::{Layer, Service};

use crate::{AuthError, Identity, PublicPaths, TokenVerifier, bearer::bearer_token};

/// Verifies the bearer token of every call except public paths (health checking and reflection
/// by default), puts the [`Identity`] into the request extensions (tonic hands them to
/// `tonic::Request::extensions()`), and answers `UNAUTHENTICATED` itself otherwise.
///
/// A tower layer rather than a tonic interceptor: whether a call needs a token depends on its
/// path, and tonic builds the request it hands an interceptor without the URI. Installed per
/// service instead, an interceptor would leave health and reflection calls without the identity
/// that a valid token still gives them (throttling keys on it).
///
/// ```ignore
/// Server::builder()
///     .layer(GrpcAuthLayer::new(verifier))
///     // After auth: the throttle keys on the identity.
///     .layer(InterceptorLayer::new(GrpcThrottle::new(throttle)))
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
    ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
{
    // Refusals are answered here, so the body type must be one this layer can build whatever
    // the inner service returns (an interceptor's body, for one, has no empty constructor).
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Either<
        Ready<Result<Self::Response, Self::Error>>,
        MapOk<S::Future, fn(http::Response<ResponseBody>) -> Self::Response>,
    >;

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
        Either::Right(self.inner.call(request).map_ok(into_tonic_body))
    }
}

fn into_tonic_body<B>(response: http::Response<B>) -> http::Response<tonic::body::Body>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(tonic::body::Body::new)
}

/// The caller verified by [`GrpcAuthLayer`], or `UNAUTHENTICATED` when the layer did not run
/// for this call (a public path).
pub fn identity_from_request<T>(request: &tonic::Request<T>) -> Result<&Identity, tonic::Status> {
    request
        .extensions()
        .get::<Identity>()
        .ok_or_else(|| AuthError::Missing.to_status())
}
