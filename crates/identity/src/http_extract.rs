//! The extractor that hands the [`Identity`] verified by [`crate::authenticate_http`] to axum
//! handlers.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::{AuthError, Identity};

/// Why a token on a public path was not accepted, kept for [`Authenticated`] to report.
#[derive(Clone, Debug)]
pub(crate) struct AuthFailure(pub(crate) AuthError);

/// The verified caller. Handlers behind [`crate::authenticate_http`] take it as an argument;
/// without a valid token the request is answered 401. `Option<Authenticated>` is `None` when no
/// token was sent, and still refuses a token that was sent but is invalid.
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
