//! Reading `Authorization: Bearer <token>` (RFC 6750 section 2.1), the same on gRPC metadata
//! and HTTP headers.

use http::{HeaderMap, header::AUTHORIZATION};

use crate::AuthError;

/// The token from the request's single `authorization` header. The scheme is case-insensitive.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::Missing)?;
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader);
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::MalformedHeader)?
        .trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedHeader)?;
    let token = token.trim_start();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_token_follows_a_case_insensitive_bearer_scheme() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def.ghi"])),
            Ok("abc.def.ghi")
        );
        assert_eq!(bearer_token(&headers(&["bearer  abc"])), Ok("abc"));
    }

    #[test]
    fn no_header_is_missing_and_anything_else_is_malformed() {
        assert_eq!(bearer_token(&headers(&[])), Err(AuthError::Missing));
        for bad in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer ",
            "abc.def.ghi",
            "Bearer a b",
        ] {
            assert_eq!(
                bearer_token(&headers(&[bad])),
                Err(AuthError::MalformedHeader),
                "{bad}"
            );
        }
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(AuthError::MalformedHeader)
        );
    }
}
