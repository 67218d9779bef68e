//! Structured logs and traces through tracing. `RUST_LOG` picks the filter; `LOG_FORMAT=json`
//! switches to one JSON object per line for log collectors, each line inside a traced span with
//! its `trace_id` and `span_id`. Every span gets W3C trace context (see [`continue_trace`],
//! [`TraceContextLayer`], [`TraceContextInterceptor`], [`current_traceparent`]); with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, finished spans are exported over OTLP/gRPC as
//! `OTEL_SERVICE_NAME` (or the name the binary gives).

mod incoming;
mod otlp;
mod trace_context;
mod trace_ids;

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Level, Metadata, Subscriber, subscriber::Interest};
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::LevelFilter,
    fmt::{self, MakeWriter},
    layer::{Context, Filter},
    prelude::*,
    registry::LookupSpan,
};

pub use incoming::{TraceContextLayer, TraceContextService, server_span};
pub use otlp::tracer_provider;
pub use trace_context::{
    TRACEPARENT, TraceContextInterceptor, continue_trace, current_span_traceparent,
    current_traceparent, inject_traceparent, inject_traceparent_header, trace_id_of,
};

use crate::config::{Variables, env_optional};

/// The filter when `RUST_LOG` is unset: our own lines at info, while sqlx and tantivy (seven
/// lines at every index commit) speak only when something is wrong.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,tantivy=warn";

/// What [`Logging::from_env`] reads.
pub const VARIABLES: &[&str] = &[
    "RUST_LOG",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
];

/// The variables every binary reads through [`init`].
pub fn variables() -> Variables {
    Variables::optional(VARIABLES)
}

/// The name spans are exported under when neither the binary nor `OTEL_SERVICE_NAME` gives one.
pub const DEFAULT_SERVICE_NAME: &str = "zayavki";

/// The provider of the installed subscriber, flushed by [`shutdown`].
static TRACER_PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Which lines are logged, and how; where spans go.
#[derive(Debug)]
pub struct Logging {
    filter: EnvFilter,
    json: bool,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: an OTLP/gRPC collector spans are exported to.
    otlp_endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`, which wins over the name the binary gives.
    service_name: Option<String>,
    /// False keeps every line unwritten (tests), while spans still get trace context.
    output: bool,
}

impl Logging {
    /// `RUST_LOG` (a filter that does not parse falls back to `default_filter`),
    /// `LOG_FORMAT=json`, `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_SERVICE_NAME`.
    pub fn from_env(default_filter: &str) -> Self {
        let filter = env_optional("RUST_LOG")
            .and_then(|directives| EnvFilter::try_new(directives).ok())
            .unwrap_or_else(|| EnvFilter::new(default_filter));
        let json = env_optional("LOG_FORMAT")
            .is_some_and(|format| format.trim().eq_ignore_ascii_case("json"));
        Self {
            filter,
            json,
            otlp_endpoint: env_optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: env_optional("OTEL_SERVICE_NAME"),
            output: true,
        }
    }

    /// The same, writing no lines.
    pub fn silent(self) -> Self {
        Self {
            output: false,
            ..self
        }
    }

    /// The subscriber this configuration describes: lines to `writer` through the filter, and
    /// spans (info and above, with warnings and errors as their events) to `traces`.
    pub fn subscriber<W>(
        self,
        traces: &SdkTracerProvider,
        writer: W,
    ) -> impl Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static
    where
        W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
    {
        let trace_layer = tracing_opentelemetry::layer()
            .with_tracer(traces.tracer(DEFAULT_SERVICE_NAME))
            .with_filter(Traced);
        let line_layer = match (self.output, self.json) {
            (false, _) => None,
            (true, true) => Some(
                fmt::layer()
                    .json()
                    .with_current_span(false)
                    .map_event_format(trace_ids::JsonWithTraceIds)
                    .with_writer(writer)
                    .with_filter(self.filter)
                    .boxed(),
            ),
            (true, false) => Some(
                fmt::layer()
                    .compact()
                    .with_writer(writer)
                    .with_filter(self.filter)
                    .boxed(),
            ),
        };
        tracing_subscriber::registry()
            .with(trace_layer)
            .with(line_layer)
    }

    /// Installs the global subscriber once, writing lines to stdout and exporting spans as
    /// `service_name` (unless `OTEL_SERVICE_NAME` names the service); later calls are ignored so
    /// tests can call it freely.
    pub fn install(self, service_name: &str) {
        let service_name = self
            .service_name
            .as_deref()
            .unwrap_or(service_name)
            .to_owned();
        let (traces, export_error) =
            match tracer_provider(&service_name, self.otlp_endpoint.as_deref()) {
                Ok(traces) => (traces, None),
                Err(error) => (
                    tracer_provider(&service_name, None).unwrap_or_default(),
                    Some(error),
                ),
            };
        let installed = self.subscriber(&traces, std::io::stdout).try_init().is_ok();
        if !installed {
            return;
        }
        if let Some(error) = export_error {
            tracing::warn!(error = %format!("{error:#}"), "spans are not exported");
        }
        drop(TRACER_PROVIDER.set(traces));
    }
}

/// What the trace layer sees: spans at info and above, and the warnings and errors inside them.
///
/// Decided for every span and event, never once per callsite: with more than one per-layer
/// filter, a span whose callsite every filter enables for good is created without a filtering
/// pass, and then takes the verdicts left on its thread by the last pass (an `enabled!` check,
/// say), which can disable it for every layer.
struct Traced;

impl<S> Filter<S> for Traced {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        let least_severe = if metadata.is_span() {
            Level::INFO
        } else {
            Level::WARN
        };
        *metadata.level() <= least_severe
    }

    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// Installs the global subscriber configured from the environment, once, for a binary serving
/// as `service_name`. Call [`shutdown`] before the process ends.
pub fn init_service(service_name: &str, default_filter: &str) {
    Logging::from_env(default_filter).install(service_name);
}

/// [`init_service`] as [`DEFAULT_SERVICE_NAME`].
pub fn init(default_filter: &str) {
    init_service(DEFAULT_SERVICE_NAME, default_filter);
}

/// Installs trace context without writing any line: tests that log nothing still propagate
/// their traces.
pub fn init_silent() {
    Logging::from_env(DEFAULT_FILTER)
        .silent()
        .install(DEFAULT_SERVICE_NAME);
}

/// Exports the spans still waiting, then stops exporting. Off the runtime's threads, since the
/// exporter's channel needs them meanwhile.
pub async fn shutdown() {
    let Some(traces) = TRACER_PROVIDER.get().cloned() else {
        return;
    };
    match tokio::task::spawn_blocking(move || traces.shutdown()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "spans not exported at shutdown"),
        Err(error) => tracing::warn!(%error, "span export did not finish"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read_recorded;

    #[test]
    fn logging_reads_exactly_its_declared_variables() {
        let (logging, asked) =
            read_recorded(&[("RUST_LOG", "debug"), ("LOG_FORMAT", "JSON")], || {
                Logging::from_env(DEFAULT_FILTER)
            });

        assert!(logging.json);
        assert_eq!(logging.filter.to_string(), "debug");
        assert_eq!(
            asked,
            VARIABLES.iter().map(|name| (*name).to_owned()).collect()
        );
    }

    #[test]
    fn the_otel_variables_name_the_collector_and_the_service() {
        let (configured, _) = read_recorded(
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_SERVICE_NAME", "zayavki-staging"),
            ],
            || Logging::from_env(DEFAULT_FILTER),
        );
        let (unset, _) = read_recorded(&[], || Logging::from_env(DEFAULT_FILTER));

        assert_eq!(
            configured.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        assert_eq!(configured.service_name.as_deref(), Some("zayavki-staging"));
        assert!(!configured.json);
        assert_eq!(unset.otlp_endpoint, None);
        assert_eq!(unset.service_name, None);
    }
}
