//! Extractors for what every application operation needs: the verified caller, the `{id}` path
//! parameter and the `Idempotency-Key` header, each rejected as problem+json.

use axum::{
    extract::{FromRequestParts, Path},
    http::{HeaderMap, request::Parts},
    response::{IntoResponse, Response},
};
use zayavki_common::{
    ErrorCode,
    problem::{FieldError, Problem},
};
use zayavki_identity::{Authenticated, Identity, Role};

use super::problem_mapping;
use crate::domain::Caller;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The caller the authentication layer verified, with at least one role this API knows.
#[derive(Debug)]
pub struct RestCaller {
    pub identity: Identity,
    pub caller: Caller,
}

impl<S: Send + Sync> FromRequestParts<S> for RestCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(identity) = Authenticated::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !identity.has_any_role(&[Role::Applicant, Role::Operator, Role::Service]) {
            return Err(Problem::new(
                ErrorCode::PermissionDenied,
                "The token grants none of the roles applicant, operator or service.",
            )
            .into_response());
        }
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
