//! `GET /metrics`: this process's metrics in the Prometheus text format, for the scraper. Like
//! the health probes it needs no token and is not rate limited: a scraper holds no user token,
//! and a throttled scrape would leave a gap exactly when the service is busiest.

use axum::{Router, routing::get};

use super::HttpState;

pub const PATH: &str = "/metrics";

pub fn routes() -> Router<HttpState> {
    Router::new().route(PATH, get(zayavki_common::metrics::exposition))
}
