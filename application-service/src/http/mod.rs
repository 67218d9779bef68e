//! The REST adapter (axum), written to `openapi/application-openapi.yml`: translates JSON to
//! domain input and domain results back, nothing more. Rules live in `crate::service` and
//! `crate::domain`; every error is RFC 9457 problem+json.

mod applications;
mod dto;
mod extract;
mod fallback;
mod health;
mod json;
mod metrics;
mod openapi;
mod problem_mapping;
mod query;

use axum::{Router, extract::DefaultBodyLimit, middleware, routing::get};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::CorsLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use zayavki_common::{metrics::RequestMetricsLayer, telemetry::server_span};
use zayavki_identity::{HttpAuth, Throttle, TokenVerifier, authenticate_http, throttle_http};

pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;

use crate::service::Applications;

/// Everything the REST handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub applications: Applications,
    pub verifier: TokenVerifier,
    pub throttle: Throttle,
    pub body_limit_bytes: usize,
    pub cors_allowed_origins: Vec<String>,
}

/// Paths served without a token and without rate limiting.
pub const OPEN_PATHS: [&str; 4] = ["/healthz", "/readyz", "/openapi.yml", metrics::PATH];

/// Every (method, path) the router serves, paths written as in the OpenAPI document.
pub fn operations() -> Vec<(&'static str, &'static str)> {
    let mut operations: Vec<_> = OPEN_PATHS.iter().map(|path| ("GET", *path)).collect();
    operations.extend(applications::OPERATIONS);
    operations
}

pub fn router(state: HttpState) -> anyhow::Result<Router> {
    let cors = cors_layer(&state.cors_allowed_origins)?;
    // Route layers run outside in: authentication, then throttling, then content negotiation.
    let api = applications::routes()
        .route_layer(middleware::from_fn(fallback::require_acceptable))
        .route_layer(middleware::from_fn_with_state(
            state.throttle.clone(),
            throttle_http,
        ))
        .route_layer(middleware::from_fn_with_state(
            HttpAuth::new(state.verifier.clone()),
            authenticate_http,
        ));
    Ok(Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/openapi.yml", get(openapi::document))
        .merge(metrics::routes())
        .merge(api)
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.body_limit_bytes))
        .layer(CatchPanicLayer::custom(fallback::panic_response))
        .layer(cors)
        // Each request in the caller's trace (`traceparent`), or in one of its own.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(server_span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        // Last, so it sees every answer; a router layer runs once the route is known.
        .layer(RequestMetricsLayer::http())
        .with_state(state))
}

/// Browsers on the allowed origins may call the API and read the headers it documents.
fn cors_layer(origins: &[String]) -> anyhow::Result<CorsLayer> {
    zayavki_common::cors::cors_layer(
        origins,
        &["authorization", "content-type", "accept", "idempotency-key"],
        &[
            "location",
            "retry-after",
            "idempotent-replayed",
            "www-authenticate",
        ],
    )
}
