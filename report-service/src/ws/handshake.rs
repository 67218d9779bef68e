//! `GET /ws`: authenticates the handshake (the `bearer, <jwt>` subprotocol, the `access_token`
//! query parameter or an `Authorization` header), reads `lastEventId`, and upgrades. Refusals
//! are problem+json; nothing here logs the request's URI, which may carry the token.

use axum::{
    extract::{
        Query, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    response::{IntoResponse, Response},
};
use http::{HeaderMap, Uri};
use serde::Deserialize;
use zayavki_common::{
    ErrorCode,
    problem::{FieldError, Problem},
};
use zayavki_identity::authenticate_websocket;

use super::session::Session;
use crate::state::AppState;

/// The most a client may send in one message: it has nothing to send but control frames.
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parameters {
    last_event_id: Option<String>,
}

pub async fn connect(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let identity = match authenticate_websocket(&state.verifier, &headers, &uri) {
        Ok(identity) => identity,
        Err(error) => return error.into_response(),
    };
    let parameters = match parameters(&uri) {
        Ok(parameters) => parameters,
        Err(problem) => return problem.into_response(),
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return not_an_upgrade(&rejection).into_response(),
    };
    // Subscribed before the client sees the handshake succeed: whatever commits after that
    // reaches it.
    let feed = state.websocket.feed();
    let ready_timeout = state.websocket.settings().ready_timeout;
    let Ok(subscription) = tokio::time::timeout(ready_timeout, feed.subscribe()).await else {
        return Problem::new(
            ErrorCode::Unavailable,
            "Events cannot be followed right now; try again shortly.",
        )
        .into_response();
    };
    let upgrade = match identity.subprotocol {
        Some(subprotocol) => upgrade.protocols([subprotocol]),
        None => upgrade,
    };
    let session = Session {
        hub: state.websocket.clone(),
        pool: state.pool.clone(),
        download_secret: state.download_secret.clone(),
        identity: identity.identity,
        last_event_id: parameters.last_event_id,
    };
    upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_failed_upgrade(|error| tracing::debug!(%error, "websocket upgrade failed"))
        .on_upgrade(move |socket| session.run(socket, subscription))
}

fn parameters(uri: &Uri) -> Result<Parameters, Problem> {
    if uri.query().is_none() {
        return Ok(Parameters {
            last_event_id: None,
        });
    }
    let Query(parameters) = Query::<Parameters>::try_from_uri(uri).map_err(|_| {
        Problem::new(ErrorCode::InvalidArgument, "The query string is not valid.").with_errors(
            vec![FieldError {
                field: "lastEventId".to_owned(),
                message: "must appear at most once".to_owned(),
            }],
        )
    })?;
    Ok(parameters)
}

fn not_an_upgrade(rejection: &WebSocketUpgradeRejection) -> Problem {
    let status = rejection.status();
    let detail = format!(
        "/ws is a WebSocket endpoint: {}.",
        rejection.body_text().trim_end_matches('.')
    );
    Problem::with_status(
        status,
        "websocket-upgrade-required",
        "WebSocket upgrade required",
        detail,
    )
}
