//! `GET /openapi.yml`: the REST contract this adapter implements, built into the binary.

use axum::{http::header::CONTENT_TYPE, response::IntoResponse};

/// `openapi/application-openapi.yml`.
pub const DOCUMENT: &str = include_str!("../../../openapi/application-openapi.yml");

pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/yaml")], DOCUMENT)
}
