//! Extractors for what every application operation needs: the verified caller, the `{id}` path
//! parameter and the `Idempotency-Key` header, each rejected as problem+json.

use axum::{
    extract::{FromRequestParts, Path},
    http::{HeaderMap, request::Parts},
};
use zayavki_common::problem::{FieldError, Problem};
use zayavki_identity::{AuthError, Authenticated, Identity};

use super::problem_mapping;
use crate::domain::Caller;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The caller the authentication layer verified. What its roles allow is the domain's to decide.
#[derive(Debug)]
pub struct RestCaller {
    pub identity: Identity,
    pub caller: Caller,
}

impl<S: Send + Sync> FromRequestParts<S> for RestCaller {
    /// 401 problem+json with a `WWW-Authenticate` challenge.
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(identity) = Authenticated::from_request_parts(parts, state).await?;
        let caller = Caller::from_identity(&identity);
        Ok(Self { identity, caller })
    }
}

/// The `{id}` of `/applications/{id}…`, as sent; the domain parses it.
#[derive(Debug)]
pub struct ApplicationId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApplicationId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Self(id)),
            Err(rejection) => Err(problem_mapping::invalid(vec![FieldError {
                field: "id".to_owned(),
                message: format!("must be a UUID ({})", rejection.body_text()),
            }])),
        }
    }
}

/// The `Idempotency-Key` header: absent, or 1 to 200 visible ASCII characters (the domain
/// checks the length and the characters).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let problem = |message: &str| {
        problem_mapping::invalid(vec![FieldError {
            field: "Idempotency-Key".to_owned(),
            message: message.to_owned(),
        }])
    };
    if values.next().is_some() {
        return Err(problem("must be sent at most once"));
    }
    match value.to_str() {
        Ok("") => Err(problem("must not be empty")),
        Ok(key) => Ok(Some(key)),
        Err(_) => Err(problem("must consist of visible ASCII characters (! to ~)")),
    }
}
