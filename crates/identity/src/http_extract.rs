//! Authentication for axum routers: a layer that verifies the bearer token and an extractor that
//! hands the [`Identity`] to handlers. Failures answer 401 problem+json with a
//! `WWW-Authenticate: Bearer` challenge.

use std::task::{Context, Poll};

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    response::{IntoResponse, Response},
};
use futures::future::{Either, Ready, ready};
use http::request::Parts;
use tower::{Layer, Service};

use crate::{
    AuthError, Identity, PublicPaths, TokenVerifier,
    bearer::bearer_token,
    websocket::{is_websocket_upgrade, websocket_token},
};

/// Verifies the bearer token of every request and puts the [`Identity`] into the request
/// extensions. Requests without a valid token get 401 unless their path is public.
///
/// Paths are those the layer sees: apply it to the top-level router so public paths are matched
/// in full. WebSocket handshakes may carry the token in the `access_token` query parameter or the
/// `Sec-WebSocket-Protocol` header (see [`crate::authenticate_websocket`]), since browsers cannot
/// set headers on them.
///
/// ```ignore
/// let app = Router::new()
///     .route("/health", get(health))
///     .route("/api/v1/applications", post(create))
///     .layer(HttpThrottleLayer::new(throttle)) // inner: runs after auth
///     .layer(HttpAuthLayer::new(verifier).with_public_paths(PublicPaths::exact(["/health", "/openapi.yml"])));
/// ```
#[derive(Clone, Debug)]
pub struct HttpAuthLayer {
    verifier: TokenVerifier,
    public: PublicPaths,
}

impl HttpAuthLayer {
    /// Every path requires a token until [`Self::with_public_paths`] says otherwise.
    pub fn new(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            public: PublicPaths::none(),
        }
    }

    /// Never refuses by itself: a valid token attaches the identity, and handlers that take
    /// [`Authenticated`] refuse requests without one.
    pub fn optional(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            public: PublicPaths::all(),
        }
    }

    pub fn with_public_paths(mut self, public: PublicPaths) -> Self {
        self.public = public;
        self
    }
}

impl<S> Layer<S> for HttpAuthLayer {
    type Service = HttpAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpAuth {
            inner,
            verifier: self.verifier.clone(),
            public: self.public.clone(),
        }
    }
}

/// The service made by [`HttpAuthLayer`].
#[derive(Clone, Debug)]
pub struct HttpAuth<S> {
    inner: S,
    verifier: TokenVerifier,
    public: PublicPaths,
}

/// Why a token on a public path was not accepted, kept for [`Authenticated`] to report.
#[derive(Clone, Debug)]
struct AuthFailure(AuthError);

impl<S, RequestBody> Service<http::Request<RequestBody>> for HttpAuth<S>
where
    S: Service<http::Request<RequestBody>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        let outcome = if is_websocket_upgrade(request.headers()) {
            websocket_token(request.headers(), request.uri())
                .and_then(|credentials| self.verifier.verify(&credentials.token))
        } else {
            bearer_token(request.headers()).and_then(|token| self.verifier.verify(token))
        };
        match outcome {
            Ok(identity) => {
                request.extensions_mut().insert(identity);
            }
            Err(error) if self.public.is_public(request.uri().path()) => {
                if error != AuthError::Missing {
                    request.extensions_mut().insert(AuthFailure(error));
                }
            }
            Err(error) => {
                tracing::debug!(path = request.uri().path(), %error, "http request refused");
                return Either::Left(ready(Ok(error.into_response())));
            }
        }
        Either::Right(self.inner.call(request))
    }
}

/// The verified caller. Handlers behind [`HttpAuthLayer`] take it as an argument; without a
/// valid token the request is answered 401. `Option<Authenticated>` is `None` when no token was
/// sent, and still refuses a token that was sent but is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated(pub Identity);

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await?
            .ok_or(AuthError::Missing)
    }
}

impl<S> OptionalFromRequestParts<S> for Authenticated
where
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(identity) = parts.extensions.get::<Identity>() {
            return Ok(Some(Self(identity.clone())));
        }
        match parts.extensions.get::<AuthFailure>() {
            Some(AuthFailure(error)) => Err(error.clone()),
            None => Ok(None),
        }
    }
}
