//! Answers axum would otherwise give as plain text or an empty body, as problem+json: unknown
//! paths (404), unsupported methods (405) and panics (500) as every service answers them
//! ([`zayavki_common::fallback`]), and requests whose `Accept` excludes JSON (406).

use std::any::Any;

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderMap, StatusCode, header::ACCEPT},
    middleware::Next,
    response::{IntoResponse, Response},
};
pub use zayavki_common::fallback::{method_not_allowed, not_found};
use zayavki_common::problem::Problem;

use super::problem_mapping;

/// Refuses requests that cannot take a JSON answer, before any work is done.
pub async fn require_acceptable(request: Request, next: Next) -> Response {
    if accepts_json(request.headers()) {
        next.run(request).await
    } else {
        Problem::with_status(
            StatusCode::NOT_ACCEPTABLE,
            "not-acceptable",
            "Not acceptable",
            "This endpoint produces application/json (errors: application/problem+json).",
        )
        .into_response()
    }
}

/// No `Accept`, or one that allows JSON or problem+json with a non-zero quality.
fn accepts_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values.any(|value| {
        let Ok(value) = value.to_str() else {
            return true;
        };
        value.split(',').any(|range| {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|parameter| {
                parameter.split_once('=').is_some_and(|(name, quality)| {
                    name.trim().eq_ignore_ascii_case("q")
                        && quality.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            !refused
                && matches!(
                    essence.as_str(),
                    "*/*" | "application/*" | "application/json" | "application/problem+json"
                )
        })
    })
}

/// A panic in a handler is a bug: logged, answered as an opaque 500.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    zayavki_common::fallback::panic_response(panic, problem_mapping::internal_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: Option<&str>) -> bool {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(ACCEPT, value.parse().expect("header"));
        }
        accepts_json(&headers)
    }

    #[test]
    fn accept_negotiation() {
        assert!(accepts(None));
        assert!(accepts(Some("*/*")));
        assert!(accepts(Some("application/json")));
        assert!(accepts(Some("text/html, application/*;q=0.5")));
        assert!(accepts(Some("application/problem+json")));
        assert!(!accepts(Some("text/html")));
        assert!(!accepts(Some("application/xml, application/json;q=0")));
    }
}
