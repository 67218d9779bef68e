//! Authenticating WebSocket handshakes. Browsers cannot set an `Authorization` header on a
//! WebSocket, so the token may also come from the `access_token` query parameter or from the
//! subprotocol list: the client offers `Sec-WebSocket-Protocol: bearer, <jwt>` and the server
//! must answer with the `bearer` subprotocol (axum: `ws.protocols([BEARER_SUBPROTOCOL])`).
//!
//! Query strings end up in access logs; prefer the subprotocol where the client allows it.

use axum::extract::{FromRef, FromRequestParts, Query};
use http::{
    HeaderMap, Uri,
    header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE},
    request::Parts,
};
use serde::Deserialize;

use crate::{AuthError, Identity, TokenVerifier, bearer::bearer_token};

/// The subprotocol that marks the next offered subprotocol as the token.
pub const BEARER_SUBPROTOCOL: &str = "bearer";

/// The query parameter that may carry the token.
pub const ACCESS_TOKEN_PARAMETER: &str = "access_token";

/// Where a handshake's token was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketToken {
    pub token: String,
    /// `Some("bearer")` when the token came from the subprotocol list: the server must select
    /// that subprotocol in its handshake answer, or the browser drops the connection.
    pub subprotocol: Option<&'static str>,
}

/// A verified handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketIdentity {
    pub identity: Identity,
    /// The subprotocol to echo, see [`WebSocketToken::subprotocol`].
    pub subprotocol: Option<&'static str>,
}

/// Finds the token in, by priority: the `Authorization` header, the `access_token` query
/// parameter, the `bearer, <token>` subprotocol pair.
pub fn websocket_token(headers: &HeaderMap, uri: &Uri) -> Result<WebSocketToken, AuthError> {
    if headers.contains_key(AUTHORIZATION) {
        return bearer_token(headers).map(|token| WebSocketToken {
            token: token.to_owned(),
            subprotocol: None,
        });
    }
    if let Some(token) = query_token(uri)? {
        return Ok(WebSocketToken {
            token,
            subprotocol: None,
        });
    }
    if let Some(token) = subprotocol_token(headers)? {
        return Ok(WebSocketToken {
            token,
            subprotocol: Some(BEARER_SUBPROTOCOL),
        });
    }
    Err(AuthError::Missing)
}

/// Finds and verifies the handshake's token.
pub fn authenticate_websocket(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<WebSocketIdentity, AuthError> {
    let found = websocket_token(headers, uri)?;
    Ok(WebSocketIdentity {
        identity: verifier.verify(&found.token)?,
        subprotocol: found.subprotocol,
    })
}

/// As an extractor it reuses the identity attached by [`crate::authenticate_http`] when the route
/// is behind it, and otherwise verifies with the [`TokenVerifier`] from the router state.
impl<S> FromRequestParts<S> for WebSocketIdentity
where
    S: Send + Sync,
    TokenVerifier: FromRef<S>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(identity) = parts.extensions.get::<Identity>() {
            let offered = offered_subprotocols(&parts.headers)
                .any(|protocol| protocol.eq_ignore_ascii_case(BEARER_SUBPROTOCOL));
            return Ok(Self {
                identity: identity.clone(),
                subprotocol: offered.then_some(BEARER_SUBPROTOCOL),
            });
        }
        let verifier = TokenVerifier::from_ref(state);
        authenticate_websocket(&verifier, &parts.headers, &parts.uri)
    }
}

/// An HTTP/1.1 upgrade to `websocket`, or an HTTP/2 extended CONNECT carrying a WebSocket version.
pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get_all(UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"));
    upgrade || headers.contains_key(SEC_WEBSOCKET_VERSION)
}

fn query_token(uri: &Uri) -> Result<Option<String>, AuthError> {
    #[derive(Deserialize)]
    struct TokenQuery {
        access_token: Option<String>,
    }

    if uri.query().is_none() {
        return Ok(None);
    }
    let Query(query) = Query::<TokenQuery>::try_from_uri(uri).map_err(|_| {
        AuthError::malformed(format!(
            "the `{ACCESS_TOKEN_PARAMETER}` query parameter must appear at most once"
        ))
    })?;
    Ok(query
        .access_token
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty()))
}

fn offered_subprotocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty())
}

fn subprotocol_token(headers: &HeaderMap) -> Result<Option<String>, AuthError> {
    let mut offered = offered_subprotocols(headers);
    if !offered.any(|protocol| protocol.eq_ignore_ascii_case(BEARER_SUBPROTOCOL)) {
        return Ok(None);
    }
    match offered.next() {
        Some(token) if !token.eq_ignore_ascii_case(BEARER_SUBPROTOCOL) => {
            Ok(Some(token.to_owned()))
        }
        _ => Err(AuthError::MalformedSubprotocol),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn protocols(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_token_follows_the_bearer_subprotocol() {
        let uri = Uri::from_static("/ws");

        let found = websocket_token(&protocols("chat, bearer, abc.def.ghi"), &uri);

        assert_eq!(
            found,
            Ok(WebSocketToken {
                token: "abc.def.ghi".to_owned(),
                subprotocol: Some(BEARER_SUBPROTOCOL),
            })
        );
    }

    #[test]
    fn bearer_without_a_token_after_it_is_malformed() {
        let uri = Uri::from_static("/ws");

        assert_eq!(
            websocket_token(&protocols("bearer"), &uri),
            Err(AuthError::MalformedSubprotocol)
        );
    }

    #[test]
    fn the_query_parameter_is_percent_decoded_and_blank_is_missing() {
        let headers = HeaderMap::new();

        let found = websocket_token(&headers, &Uri::from_static("/ws?x=1&access_token=a%2Eb.c"));
        assert_eq!(found.map(|found| found.token), Ok("a.b.c".to_owned()));

        let blank = websocket_token(&headers, &Uri::from_static("/ws?access_token="));
        assert_eq!(blank, Err(AuthError::Missing));
    }

    #[test]
    fn upgrades_are_recognised_on_http1_and_http2() {
        let mut upgrade = HeaderMap::new();
        upgrade.insert(UPGRADE, HeaderValue::from_static("WebSocket"));
        let mut connect = HeaderMap::new();
        connect.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));

        assert!(is_websocket_upgrade(&upgrade));
        assert!(is_websocket_upgrade(&connect));
        assert!(!is_websocket_upgrade(&HeaderMap::new()));
    }
}
