//! W3C trace context between services: the `traceparent` a request or message arrives with
//! becomes the parent of the span that handles it, and whatever leaves (a gRPC call, an outbox
//! row) carries the `traceparent` of the span that sends it. One trace id then follows a create
//! through every service.

use opentelemetry::{
    Context,
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header (HTTP), metadata key (gRPC) and message header (AMQP) of the trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The `traceparent` of the span being executed (the innermost traced span entered on this
/// thread); `None` outside any.
pub fn current_span_traceparent() -> Option<String> {
    traceparent_of(&Context::current())
}

/// The `traceparent` of the span being executed or, outside any, a fresh one that starts a
/// trace: what a message written now carries.
pub fn current_traceparent() -> String {
    current_span_traceparent().unwrap_or_else(crate::amqp::new_traceparent)
}

/// The trace id (32 lowercase hex digits) a `traceparent` names, when it is a valid one.
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    remote_context(traceparent).map(|context| context.span().span_context().trace_id().to_string())
}

/// Makes `span` a child of the remote span `traceparent` names (a missing or malformed one
/// leaves `span` the root of a trace of its own), then records the trace id in the span's
/// `trace_id` field when it declares one, so even the compact log format shows it. Call it
/// before the span is first entered.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    if let Some(parent) = traceparent.and_then(remote_context) {
        // Fails only when no trace layer is installed, or the span is disabled: then there is
        // no trace to continue.
        drop(span.set_parent(parent));
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

fn remote_context(traceparent: &str) -> Option<Context> {
    let context = TraceContextPropagator::new().extract(&Traceparent(traceparent.trim()));
    context.span().span_context().is_valid().then_some(context)
}

fn traceparent_of(context: &Context) -> Option<String> {
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// A carrier holding nothing but a `traceparent`.
struct Traceparent<'a>(&'a str);

impl Extractor for Traceparent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(TRACEPARENT).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

/// Adds the current span's `traceparent` to the metadata of every call of a gRPC client:
/// `SomeClient::with_interceptor(channel, TraceContextInterceptor)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_traceparent(request.metadata_mut());
        Ok(request)
    }
}

/// Puts the current span's `traceparent` into outgoing gRPC metadata; outside any span the call
/// goes without one (the server starts a trace).
pub fn inject_traceparent(metadata: &mut tonic::metadata::MetadataMap) {
    if let Some(value) = current_span_traceparent().and_then(|traceparent| traceparent.parse().ok())
    {
        metadata.insert(TRACEPARENT, value);
    }
}

/// Puts the current span's `traceparent` into outgoing HTTP headers.
pub fn inject_traceparent_header(headers: &mut http::HeaderMap) {
    if let Some(value) = current_span_traceparent().and_then(|traceparent| traceparent.parse().ok())
    {
        headers.insert(TRACEPARENT, value);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tonic::service::Interceptor;

    use super::*;
    use crate::telemetry::Logging;

    const INCOMING: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const INCOMING_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

    /// Runs `body` under a subscriber with the trace layer and no output.
    fn traced<T>(body: impl FnOnce() -> T) -> T {
        let traces = SdkTracerProvider::default();
        let subscriber = Logging::from_env("info")
            .silent()
            .subscriber(&traces, std::io::sink);
        tracing::subscriber::with_default(subscriber, body)
    }

    fn continued_span(traceparent: Option<&str>) -> Span {
        let span = tracing::info_span!("work", trace_id = tracing::field::Empty);
        continue_trace(&span, traceparent);
        span
    }

    #[test]
    fn inside_a_continued_trace_the_current_traceparent_names_the_incoming_trace_and_our_span() {
        let traceparent = traced(|| continued_span(Some(INCOMING)).in_scope(current_traceparent));

        assert_eq!(
            trace_id_of(&traceparent).as_deref(),
            Some(INCOMING_TRACE_ID)
        );
        assert!(traceparent.starts_with("00-"), "{traceparent}");
        assert_ne!(traceparent, INCOMING, "the span is our own");
    }

    #[test]
    fn outside_any_span_a_message_starts_a_trace_of_its_own() {
        let (in_span, fresh) = traced(|| (current_span_traceparent(), current_traceparent()));

        assert_eq!(in_span, None);
        assert!(trace_id_of(&fresh).is_some(), "{fresh}");
        assert_ne!(trace_id_of(&fresh).as_deref(), Some(INCOMING_TRACE_ID));
    }

    #[test]
    fn a_malformed_traceparent_leaves_the_span_a_trace_of_its_own() {
        for malformed in [
            "",
            "not a traceparent",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319Z-b7ad6b7169203331-01",
        ] {
            let traceparent =
                traced(|| continued_span(Some(malformed)).in_scope(current_traceparent));

            assert_eq!(trace_id_of(malformed), None, "{malformed:?}");
            let trace_id = trace_id_of(&traceparent).expect("a trace of its own");
            assert_ne!(trace_id, INCOMING_TRACE_ID);
        }
    }

    #[test]
    fn the_grpc_interceptor_sends_the_current_trace() {
        let request = traced(|| {
            continued_span(Some(INCOMING)).in_scope(|| {
                TraceContextInterceptor
                    .call(tonic::Request::new(()))
                    .expect("the interceptor lets calls through")
            })
        });

        let sent = request
            .metadata()
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .expect("a traceparent in the metadata");
        assert_eq!(trace_id_of(sent).as_deref(), Some(INCOMING_TRACE_ID));
    }

    #[test]
    fn outside_any_span_a_call_goes_without_a_traceparent() {
        let mut headers = http::HeaderMap::new();
        let request = traced(|| {
            inject_traceparent_header(&mut headers);
            TraceContextInterceptor
                .call(tonic::Request::new(()))
                .expect("the interceptor lets calls through")
        });

        assert!(request.metadata().get(TRACEPARENT).is_none());
        assert!(headers.get(TRACEPARENT).is_none());
    }
}
