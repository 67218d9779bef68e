//! Authentication for axum routers: middleware for `axum::middleware::from_fn_with_state` that
//! verifies the bearer token. Failures answer 401 problem+json with a `WWW-Authenticate: Bearer`
//! challenge.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    AuthError, PublicPaths, TokenVerifier,
    bearer::bearer_token,
    http_extract::AuthFailure,
    websocket::{is_websocket_upgrade, websocket_token},
};

/// What [`authenticate_http`] checks tokens with, and which paths it lets through without one.
#[derive(Clone, Debug)]
pub struct HttpAuth {
    verifier: TokenVerifier,
    public: PublicPaths,
}

impl HttpAuth {
    /// Every path requires a token until [`Self::with_public_paths`] says otherwise.
    pub fn new(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            public: PublicPaths::none(),
        }
    }

    /// Never refuses by itself: a valid token attaches the identity, and handlers that take
    /// [`crate::Authenticated`] refuse requests without one.
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

/// Verifies the bearer token of every request and puts the [`crate::Identity`] into the request
/// extensions. Requests without a valid token get 401 unless their path is public.
///
/// Paths are those the middleware sees: apply it to the top-level router so public paths are
/// matched in full. WebSocket handshakes may carry the token in the `access_token` query
/// parameter or the `Sec-WebSocket-Protocol` header (see [`crate::authenticate_websocket`]),
/// since browsers cannot set headers on them.
///
/// ```ignore
/// let app = Router::new()
///     .route("/health", get(health))
///     .route("/api/v1/applications", post(create))
///     .layer(from_fn_with_state(throttle, throttle_http)) // inner: runs after auth
///     .layer(from_fn_with_state(
///         HttpAuth::new(verifier).with_public_paths(PublicPaths::exact(["/health"])),
///         authenticate_http,
///     ));
/// ```
pub async fn authenticate_http(
    State(auth): State<HttpAuth>,
    mut request: Request,
    next: Next,
) -> Response {
    let outcome = if is_websocket_upgrade(request.headers()) {
        websocket_token(request.headers(), request.uri())
            .and_then(|credentials| auth.verifier.verify(&credentials.token))
    } else {
        bearer_token(request.headers()).and_then(|token| auth.verifier.verify(token))
    };
    match outcome {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
        }
        Err(error) if auth.public.is_public(request.uri().path()) => {
            if error != AuthError::Missing {
                request.extensions_mut().insert(AuthFailure(error));
            }
        }
        Err(error) => {
            tracing::debug!(path = request.uri().path(), %error, "http request refused");
            return error.into_response();
        }
    }
    next.run(request).await
}
