//! Why a request could not be authenticated, worded for the caller, and how that answer looks on
//! gRPC (`UNAUTHENTICATED`) and on REST (401 problem+json with `WWW-Authenticate`).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use zayavki_common::{ErrorCode, problem::Problem};

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "zayavki";

/// One outcome per way a bearer token can fail. Messages are safe to return to the caller: they
/// never contain the token, and attacker-chosen header values are sanitised.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials were sent at all.
    #[error("authentication required: send an `authorization: Bearer <token>` header")]
    Missing,
    /// An authorization header was sent, but not as `Bearer <token>`.
    #[error("the authorization header must have the form `Bearer <token>`")]
    MalformedHeader,
    /// A WebSocket client offered the `bearer` subprotocol without a token after it.
    #[error("the Sec-WebSocket-Protocol header must offer `bearer, <token>`")]
    MalformedSubprotocol,
    /// The credential is not a JWT (three base64url parts, JSON header and claims).
    #[error("the bearer token is not a well-formed JWT: {reason}")]
    Malformed { reason: String },
    /// The token's `alg` is not one of the algorithms of the configured keys; `none` lands here.
    #[error(
        "the token uses algorithm `{algorithm}`, which this server does not accept (accepted: {accepted})"
    )]
    AlgorithmNotAllowed { algorithm: String, accepted: String },
    /// The signature does not match the key the token names.
    #[error("the token signature is not valid: it was not signed by a trusted key")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet: its `nbf` time is in the future")]
    NotYetValid,
    #[error("the token was issued by an issuer this server does not trust")]
    WrongIssuer,
    #[error("the token is not intended for this server: its audience does not match")]
    WrongAudience,
    #[error("the token has no subject: the `sub` claim is missing or empty")]
    MissingSubject,
    #[error("the token has no expiry: the `exp` claim is required")]
    MissingExpiry,
    /// The token names a key id that the key set does not hold, or names none when several
    /// keys could match.
    #[error("{}", unknown_key_message(.kid.as_deref()))]
    UnknownKey { kid: Option<String> },
    /// The server was started without any verification key, so no token can be trusted.
    #[error("this server has no token verification key configured, so it cannot accept any token")]
    NoKeyConfigured,
}

fn unknown_key_message(kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!("the token names key id `{kid}`, which is not a trusted key"),
        None => "the token names no key id (`kid`) and no single trusted key matches it".to_owned(),
    }
}

impl AuthError {
    pub fn code(&self) -> ErrorCode {
        ErrorCode::Unauthenticated
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed {
            reason: reason.into(),
        }
    }

    /// The gRPC answer: `UNAUTHENTICATED` with this error's message.
    pub fn to_status(&self) -> tonic::Status {
        tonic::Status::new(self.code().grpc_code(), self.to_string())
    }

    /// The RFC 6750 challenge: no `error` attribute when no credentials were sent,
    /// `invalid_request` when the header itself is malformed, `invalid_token` otherwise.
    pub fn www_authenticate(&self) -> HeaderValue {
        let error = match self {
            Self::Missing => None,
            Self::MalformedHeader | Self::MalformedSubprotocol => Some("invalid_request"),
            _ => Some("invalid_token"),
        };
        let challenge = match error {
            None => format!(r#"Bearer realm="{REALM}""#),
            Some(error) => format!(
                r#"Bearer realm="{REALM}", error="{error}", error_description="{}""#,
                quoted_string_safe(&self.to_string())
            ),
        };
        HeaderValue::from_str(&challenge)
            .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer realm="zayavki""#))
    }

    /// The REST answer: 401 problem+json carrying the challenge header.
    pub fn to_problem(&self) -> Problem {
        Problem::new(self.code(), self.to_string())
            .with_header(header::WWW_AUTHENTICATE, self.www_authenticate())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        error.to_status()
    }
}

/// Keeps a caller-supplied value (an `alg` or `kid`) printable, short and free of quotes, so it
/// can go into a message and a header.
pub(crate) fn sanitize(raw: &str) -> String {
    const LIMIT: usize = 40;
    let mut cleaned: String = raw
        .chars()
        .map(|character| {
            if character.is_ascii_graphic() && !matches!(character, '"' | '\\' | '`') {
                character
            } else {
                '?'
            }
        })
        .take(LIMIT)
        .collect();
    if raw.chars().count() > LIMIT {
        cleaned.push_str("...");
    }
    cleaned
}

/// Inside an HTTP quoted-string, `"` and `\` would need escaping and non-ASCII is not allowed.
fn quoted_string_safe(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '"' | '\\' => '\'',
            ' '..='~' => character,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_is_challenged_without_an_error_attribute() {
        assert_eq!(
            AuthError::Missing.www_authenticate(),
            r#"Bearer realm="zayavki""#
        );
    }

    #[test]
    fn a_bad_token_is_challenged_as_invalid_token_with_a_description() {
        assert_eq!(
            AuthError::Expired.www_authenticate(),
            r#"Bearer realm="zayavki", error="invalid_token", error_description="the token has expired""#
        );
    }

    #[test]
    fn a_malformed_header_is_challenged_as_invalid_request() {
        let challenge = AuthError::MalformedHeader.www_authenticate();
        let challenge = challenge.to_str().expect("ascii");

        assert!(
            challenge.contains(r#"error="invalid_request""#),
            "{challenge}"
        );
    }

    #[test]
    fn caller_supplied_values_are_sanitised() {
        assert_eq!(sanitize("no\"ne\u{7f}`"), "no?ne??");
        assert_eq!(sanitize(&"x".repeat(50)), format!("{}...", "x".repeat(40)));
    }

    #[test]
    fn every_error_is_unauthenticated_on_both_protocols() {
        let status = AuthError::BadSignature.to_status();

        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(AuthError::BadSignature.to_problem().status, 401);
    }
}
