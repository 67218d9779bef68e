//! Liveness and readiness.

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::json;
use zayavki_common::{ErrorCode, database::is_reachable, problem::Problem};

use crate::state::AppState;

pub async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready while PostgreSQL and the file store answer; the answer says which one does not.
pub async fn ready(State(state): State<AppState>) -> axum::response::Response {
    let (database, content) = tokio::join!(is_reachable(&state.pool), state.content.is_reachable());
    match (database, content) {
        (true, true) => Json(json!({ "status": "ready" })).into_response(),
        (false, _) => {
            Problem::new(ErrorCode::Unavailable, "PostgreSQL is not answering").into_response()
        }
        (true, false) => Problem::new(
            ErrorCode::Unavailable,
            "The report file store (REPORT_STORAGE) is not answering",
        )
        .into_response(),
    }
}
