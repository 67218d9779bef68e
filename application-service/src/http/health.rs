//! Liveness and readiness.

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::json;
use zayavki_common::{ErrorCode, database::is_reachable, problem::Problem};

use super::HttpState;

pub async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<HttpState>) -> axum::response::Response {
    if is_reachable(state.applications.pool()).await {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        Problem::new(ErrorCode::Unavailable, "PostgreSQL is not answering").into_response()
    }
}
