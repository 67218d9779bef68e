//! `trace_id` and `span_id` as the first fields of every JSON line written inside a traced
//! span, so one create can be followed through every service's logs by its trace id.

use std::fmt;

use opentelemetry::{
    Context,
    trace::{SpanId, TraceContextExt, TraceId},
};
use tracing::{Event, Subscriber};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

/// Wraps the JSON event format: the line it writes, with the ids of the span being executed
/// spliced in after the opening brace. Lines outside any traced span are left as they are.
pub(super) struct JsonWithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for JsonWithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.0.format_event(context, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0
            .format_event(context, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) if !rest.starts_with('}') => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            _ => writer.write_str(&line),
        }
    }
}

/// The trace and span id of the span being executed: the trace layer attaches a span's context
/// while the span is entered.
fn current_ids() -> Option<(TraceId, SpanId)> {
    Context::map_current(|context| {
        let span = context.span();
        let span_context = span.span_context();
        span_context
            .is_valid()
            .then(|| (span_context.trace_id(), span_context.span_id()))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry_sdk::trace::SdkTracerProvider;
    use serde_json::Value;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::EnvFilter;

    use crate::telemetry::{Logging, continue_trace, server_span, trace_context::TRACEPARENT};

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const INCOMING_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// Everything written, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("capture lock")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().expect("capture lock").clone();
            String::from_utf8(bytes)
                .expect("UTF-8 lines")
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    fn logging(json: bool) -> Logging {
        Logging {
            filter: EnvFilter::new("info"),
            json,
            otlp_endpoint: None,
            service_name: None,
            output: true,
        }
    }

    /// The lines `record` logs through the subscriber `logging` describes.
    fn logged(logging: Logging, record: impl FnOnce()) -> Vec<String> {
        let captured = Captured::default();
        let traces = SdkTracerProvider::default();
        let writer = captured.clone();
        let subscriber = logging.subscriber(&traces, move || writer.clone());
        tracing::subscriber::with_default(subscriber, record);
        captured.lines()
    }

    fn logged_as_json(record: impl FnOnce()) -> Vec<Value> {
        logged(logging(true), record)
            .iter()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }

    fn ids_of(span: &tracing::Span) -> (String, String) {
        let context = span.context();
        let span_context = opentelemetry::trace::TraceContextExt::span(&context)
            .span_context()
            .clone();
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    }

    #[test]
    fn a_json_line_inside_a_span_carries_the_trace_and_span_id_of_the_span() {
        let mut expected = None;
        let lines = logged_as_json(|| {
            let span = tracing::info_span!("work");
            let _entered = span.enter();
            tracing::info!(count = 3, "inside");
            expected = Some(ids_of(&span));
        });

        let (trace_id, span_id) = expected.expect("the span ran");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["trace_id"], trace_id.as_str());
        assert_eq!(lines[0]["span_id"], span_id.as_str());
        assert_eq!(lines[0]["fields"]["message"], "inside");
        assert_eq!(lines[0]["fields"]["count"], 3);
        assert_eq!(lines[0]["level"], "INFO");
    }

    #[test]
    fn a_json_line_inside_a_continued_trace_carries_the_incoming_trace_id() {
        let mut span_id = None;
        let lines = logged_as_json(|| {
            let span = tracing::info_span!("message", trace_id = tracing::field::Empty);
            continue_trace(&span, Some(INCOMING));
            let _entered = span.enter();
            let child = tracing::info_span!("step");
            let _child_entered = child.enter();
            tracing::warn!("inside the child");
            span_id = Some(ids_of(&child).1);
        });

        assert_eq!(lines[0]["trace_id"], INCOMING_TRACE_ID);
        assert_eq!(lines[0]["span_id"], span_id.expect("the span ran").as_str());
        assert_ne!(lines[0]["span_id"], "00f067aa0ba902b7", "a span of our own");
    }

    #[test]
    fn a_span_created_after_a_check_that_logs_nothing_still_continues_its_trace() {
        let lines = logged_as_json(|| {
            // A filtering pass that creates no span or event: its verdicts stay on the thread.
            assert!(tracing::enabled!(tracing::Level::INFO));
            let span = tracing::info_span!("message", trace_id = tracing::field::Empty);
            continue_trace(&span, Some(INCOMING));
            let _entered = span.enter();
            tracing::warn!("inside");
        });

        assert_eq!(lines[0]["trace_id"], INCOMING_TRACE_ID, "{}", lines[0]);
        assert_eq!(lines[0]["spans"][0]["trace_id"], INCOMING_TRACE_ID);
    }

    #[test]
    fn a_json_line_outside_any_span_has_no_trace_id() {
        let lines = logged_as_json(|| tracing::info!("alone"));

        assert_eq!(lines[0]["fields"]["message"], "alone");
        assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
        assert!(lines[0].get("span_id").is_none(), "{}", lines[0]);
    }

    #[test]
    fn a_compact_line_in_a_request_span_shows_the_incoming_trace_id() {
        let lines = logged(logging(false), || {
            let request = http::Request::builder()
                .uri("/applications.v1.ApplicationService/GetApplication")
                .header(TRACEPARENT, INCOMING)
                .body(())
                .expect("a request");
            let span = server_span(&request);
            let _entered = span.enter();
            tracing::info!("handled");
        });

        assert_eq!(lines.len(), 1);
        // Terminal colours may come between a field's name and its value.
        let after_name = lines[0]
            .split_once("trace_id")
            .map(|(_, after)| after)
            .expect("the line names the trace id");
        assert!(after_name.contains(INCOMING_TRACE_ID), "{}", lines[0]);
        assert!(lines[0].contains("handled"), "{}", lines[0]);
    }

    #[test]
    fn a_silent_subscriber_writes_nothing_yet_spans_have_trace_context() {
        let mut traceparent = None;
        let lines = logged(logging(true).silent(), || {
            let span = tracing::info_span!("work");
            let _entered = span.enter();
            tracing::error!("unseen");
            traceparent = crate::telemetry::current_span_traceparent();
        });

        assert!(lines.is_empty(), "{lines:?}");
        assert!(traceparent.is_some());
    }
}
