//! What the HTTP handlers (reports, downloads, WebSocket) share.

use std::sync::Arc;

use sqlx::PgPool;
use zayavki_identity::TokenVerifier;

use crate::{config::Settings, content::ContentStore, download::DownloadSecret, ws::WebSocketHub};

/// Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub verifier: TokenVerifier,
    /// Signs and checks download URLs (`crate::download::download_url`).
    pub download_secret: DownloadSecret,
    pub content: ContentStore,
    /// The replica's WebSocket connections and the log feed they follow.
    pub websocket: WebSocketHub,
}
