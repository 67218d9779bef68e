//! HTTP on one port: the report API (`reports`), downloads (`download`), the WebSocket
//! (`crate::ws`), probes and metrics. Every error is problem+json.

mod download;
mod errors;
mod fallback;
mod health;
mod reports;

use axum::{Router, middleware, routing::get};
use tower_http::{
    catch_panic::CatchPanicLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use zayavki_common::{metrics::RequestMetricsLayer, telemetry::server_span};
use zayavki_identity::{HttpAuth, Throttle, authenticate_http, throttle_http};

use crate::state::AppState;

/// Paths served without a token and without rate limiting.
pub const OPEN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

pub fn router(state: AppState, throttle: Throttle) -> anyhow::Result<Router> {
    let cors = zayavki_common::cors::cors_layer(
        &state.settings.cors_allowed_origins,
        &["authorization", "content-type", "accept"],
        &[
            "content-disposition",
            "content-length",
            "etag",
            "retry-after",
            "www-authenticate",
        ],
    )?;
    // Route layers run outside in: authentication, then throttling.
    let api = reports::routes()
        .route_layer(middleware::from_fn_with_state(
            throttle.clone(),
            throttle_http,
        ))
        .route_layer(middleware::from_fn_with_state(
            HttpAuth::new(state.verifier.clone()),
            authenticate_http,
        ));
    // A download carries a bearer token or a signed URL; the handler checks whichever came.
    let downloads = download::routes()
        .route_layer(middleware::from_fn_with_state(throttle, throttle_http))
        .route_layer(middleware::from_fn_with_state(
            HttpAuth::optional(state.verifier.clone()),
            authenticate_http,
        ));
    Ok(Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(zayavki_common::metrics::exposition))
        .merge(api)
        .merge(downloads)
        // The WebSocket push, with its own authentication (tokens in the handshake).
        .merge(crate::ws::routes())
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(CatchPanicLayer::custom(fallback::panic_response))
        .layer(cors)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(server_span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(RequestMetricsLayer::http())
        .with_state(state))
}
