//! The REST adapter (axum), written to `openapi/application-openapi.yml`.

mod health;

use axum::{Router, routing::get};

use zayavki_identity::{Throttle, TokenVerifier};

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

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .with_state(state)
}
