//! HTTP on its own port: liveness, readiness with details, and Prometheus metrics. No token is
//! needed: probes and scrapers hold none.

use axum::{Json, Router, extract::State, response::IntoResponse, routing::get};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use zayavki_common::{
    ErrorCode, database::is_reachable, metrics::RequestMetricsLayer, problem::Problem,
    telemetry::TraceContextLayer,
};

use crate::notifier::DeliveryStatus;

#[derive(Clone)]
pub struct HttpState {
    pub pool: PgPool,
    pub notifier: watch::Receiver<DeliveryStatus>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
        .route("/metrics", get(zayavki_common::metrics::exposition))
        .with_state(state)
        .layer(TraceContextLayer)
        .layer(RequestMetricsLayer::http())
}

async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready while PostgreSQL answers. The notification service being down does not make the
/// service unready (processes go on; notifications wait): it is reported as `degraded`.
async fn ready(State(state): State<HttpState>) -> axum::response::Response {
    if !is_reachable(&state.pool).await {
        return Problem::new(ErrorCode::Unavailable, "PostgreSQL is not answering").into_response();
    }
    let notifier = state.notifier.borrow().clone();
    let degraded = notifier.is_degraded();
    Json(json!({
        "status": if degraded { "degraded" } else { "ready" },
        "notifier": notifier,
    }))
    .into_response()
}
