//! The WebSocket push: `GET /ws` sends each browser its user's events (operators: everyone's)
//! as they settle in the event log, after replaying what it missed since `lastEventId`.
//!
//! - `handshake`: authentication, parameters, the upgrade;
//! - `session`: one connection: replay, then live, pings, idle and slow-client closes;
//! - `frames`: the JSON a client receives, and the close frames;
//! - `hub`: what the connections of a replica share (the log's feed, the connection count).

mod frames;
mod handshake;
mod hub;
mod session;
mod settings;

use axum::{Router, routing::get};

pub use hub::{CLOSED_TOTAL, CONNECTIONS_GAUGE, WebSocketHub};
pub use settings::WebSocketSettings;

use crate::state::AppState;

/// The WebSocket routes, merged into the HTTP router by `crate::http::router`. HTTP/2 clients
/// open WebSockets with an extended CONNECT, HTTP/1.1 ones with a GET.
pub fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(handshake::connect).connect(handshake::connect))
}
