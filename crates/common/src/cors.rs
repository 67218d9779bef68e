//! CORS for browser origins on an allow-list, the same way on every service and protocol.

use std::time::Duration;

use anyhow::Context;
use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Allows `origins` to call with GET/POST and the `allow_headers`, and lets their scripts read
/// `expose_headers` from responses.
pub fn cors_layer(
    origins: &[String],
    allow_headers: &[&'static str],
    expose_headers: &[&'static str],
) -> anyhow::Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin).with_context(|| format!("CORS origin {origin:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(
            allow_headers
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect::<Vec<_>>(),
        )
        .expose_headers(
            expose_headers
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect::<Vec<_>>(),
        )
        .max_age(Duration::from_secs(600)))
}
