//! Prometheus metrics shared by every service: one process-wide recorder behind the `metrics`
//! facade, rendered in the Prometheus text format on a service's own HTTP port (`/metrics`), and
//! a tower layer that counts and times requests on gRPC and REST servers alike.
//!
//! Anything recorded with the `metrics` macros (`metrics::counter!`, `metrics::gauge!`,
//! `metrics::histogram!`) anywhere in the process shows up in [`exposition`]. The exporter lists
//! a metric once it has been recorded at least once; the descriptions below give it its help
//! text from then on.

mod grpc_methods;
mod request_layer;

use std::{sync::OnceLock, time::Duration};

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use metrics::Unit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use grpc_methods::GrpcMethods;
pub use request_layer::{MetricsBody, RequestMetrics, RequestMetricsLayer, ResponseFuture};

/// Requests answered, by `protocol`, `method` and `status`.
pub const REQUESTS_TOTAL: &str = "zayavki_requests_total";
/// Time from a request's arrival to the end of its response body, same labels.
pub const REQUEST_DURATION_SECONDS: &str = "zayavki_request_duration_seconds";
/// How far the search index was behind PostgreSQL when it last caught up.
pub const SEARCH_INDEX_LAG_TRANSACTIONS: &str = "zayavki_search_index_lag_transactions";
/// Outbox rows not yet published.
pub const OUTBOX_BACKLOG: &str = "zayavki_outbox_backlog";
/// Age of the oldest outbox row not yet published.
pub const OUTBOX_OLDEST_AGE_SECONDS: &str = "zayavki_outbox_oldest_age_seconds";
/// Events the relay published and the broker confirmed.
pub const RELAY_PUBLISHED_TOTAL: &str = "zayavki_relay_published_total";
/// Publishing attempts that failed (Nack, return, timeout, lost connection).
pub const RELAY_FAILURES_TOTAL: &str = "zayavki_relay_failures_total";

/// 1 while a consumer of `queue` holds a subscription on the broker, 0 while it reconnects.
pub const CONSUMER_CONNECTED: &str = "zayavki_consumer_connected";
/// Deliveries of `queue` received and not yet acknowledged (being handled).
pub const CONSUMER_UNACKNOWLEDGED: &str = "zayavki_consumer_unacknowledged";
/// Deliveries of `queue` settled, by `outcome` (done, dead_lettered and the like).
pub const CONSUMER_MESSAGES_TOTAL: &str = "zayavki_consumer_messages_total";

/// Time report-service took to build and store one report, by `kind`, `format` and `outcome`.
pub const REPORT_BUILD_DURATION_SECONDS: &str = "zayavki_report_build_duration_seconds";

/// The `Content-Type` of the Prometheus text exposition format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram buckets in seconds, from half a millisecond (a cached read) to ten seconds (a
/// batch of a thousand applications on a busy machine).
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Report builds take from a fraction of a second (one application) to many minutes (a
/// million rows); the broker redelivers a job unacknowledged for 30 minutes.
const REPORT_BUILD_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0,
];

/// Histogram samples wait in memory until they are folded into buckets; a process nobody
/// scrapes folds them on this interval so they do not pile up.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder and returns the handle that renders it.
///
/// A process has one global recorder, and several services (or tests) may start in one
/// process: the first call installs it, every later call returns the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE.get_or_init(install_recorder).clone()
}

fn install_recorder() -> PrometheusHandle {
    // Every histogram gets these buckets (the exporter would otherwise render summaries).
    let recorder = PrometheusBuilder::new()
        .set_buckets(&DURATION_BUCKETS)
        .expect("the duration buckets are not empty")
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(REPORT_BUILD_DURATION_SECONDS.to_owned()),
            &REPORT_BUILD_BUCKETS,
        )
        .expect("the report build buckets are not empty")
        .build_recorder();
    let handle = recorder.handle();
    if let Err(error) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %error, "another metrics recorder is installed; /metrics shows none of its metrics");
    }
    describe();
    spawn_upkeep(handle.clone());
    handle
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "Requests answered, by protocol (grpc, http), method (gRPC method path or REST route template) and status (gRPC status name or HTTP status code)"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time from a request's arrival to the end of its response, same labels as zayavki_requests_total"
    );
    metrics::describe_gauge!(
        SEARCH_INDEX_LAG_TRANSACTIONS,
        Unit::Count,
        "Transactions between the search index watermark and the PostgreSQL snapshot horizon at the last catch-up"
    );
    metrics::describe_gauge!(
        OUTBOX_BACKLOG,
        Unit::Count,
        "Outbox events written but not yet published"
    );
    metrics::describe_gauge!(
        OUTBOX_OLDEST_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest outbox event not yet published"
    );
    metrics::describe_gauge!(
        CONSUMER_CONNECTED,
        Unit::Count,
        "1 while the consumer of a queue is subscribed, 0 while it reconnects"
    );
    metrics::describe_gauge!(
        CONSUMER_UNACKNOWLEDGED,
        Unit::Count,
        "Deliveries of a queue received and not yet acknowledged"
    );
    metrics::describe_counter!(
        CONSUMER_MESSAGES_TOTAL,
        Unit::Count,
        "Deliveries of a queue settled, by outcome"
    );
    metrics::describe_counter!(
        RELAY_PUBLISHED_TOTAL,
        Unit::Count,
        "Outbox events the relay published and the broker confirmed"
    );
    metrics::describe_counter!(
        RELAY_FAILURES_TOTAL,
        Unit::Count,
        "Outbox publishing attempts that failed (nack, return, timeout or lost connection)"
    );
}

/// A plain thread rather than a task: `install` may be called before or outside a runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(error = %error, "cannot start metrics upkeep; histogram samples are folded only when scraped");
    }
}

/// The axum handler for `GET /metrics`: every metric of this process in the text format.
pub async fn exposition() -> Response {
    ([(CONTENT_TYPE, TEXT_FORMAT)], install().render()).into_response()
}
