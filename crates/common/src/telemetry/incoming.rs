//! The span of every incoming request, gRPC or HTTP, continuing the caller's trace from its
//! `traceparent` header (gRPC metadata travels as HTTP/2 headers).

use std::task::{Context, Poll};

use tracing::{Instrument, Span, field::Empty, instrument::Instrumented};

use super::trace_context::{TRACEPARENT, continue_trace};

/// The span a request is handled in: `request{method, path, trace_id}`, a child of the caller's
/// span when the request carries a valid `traceparent`. Usable as tower-http's
/// `TraceLayer::make_span_with`.
pub fn server_span<B>(request: &http::Request<B>) -> Span {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        trace_id = Empty,
    );
    let traceparent = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|value| value.to_str().ok());
    continue_trace(&span, traceparent);
    span
}

/// Runs every request of the wrapped service inside its [`server_span`]: a layer for tonic
/// servers (`Server::builder().layer(TraceContextLayer)`, first, so it wraps the others) and for
/// axum routers.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextLayer;

impl<S> tower::Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService { inner }
    }
}

#[derive(Clone, Debug)]
pub struct TraceContextService<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for TraceContextService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = server_span(&request);
        let response = span.in_scope(|| self.inner.call(request));
        response.instrument(span)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::telemetry::{Logging, current_span_traceparent, trace_id_of};

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const INCOMING_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// The `traceparent` the wrapped service sees while it handles a request with `headers`.
    async fn seen_by_handler(traceparent: Option<&str>) -> Option<String> {
        let traces = SdkTracerProvider::default();
        let subscriber = Logging::from_env("info")
            .silent()
            .subscriber(&traces, std::io::sink);
        let _default = tracing::subscriber::set_default(subscriber);
        let service = TraceContextLayer.layer(tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(current_span_traceparent())
        }));
        let mut request = http::Request::builder().uri("/v1/applications");
        if let Some(traceparent) = traceparent {
            request = request.header(TRACEPARENT, traceparent);
        }
        let request = request.body(()).expect("a request");
        service.oneshot(request).await.expect("infallible")
    }

    #[tokio::test]
    async fn a_request_with_a_traceparent_is_handled_in_the_callers_trace() {
        let seen = seen_by_handler(Some(INCOMING))
            .await
            .expect("the handler runs in a traced span");

        assert_eq!(trace_id_of(&seen).as_deref(), Some(INCOMING_TRACE_ID));
        assert!(
            !seen.contains("00f067aa0ba902b7"),
            "a span of its own: {seen}"
        );
    }

    #[tokio::test]
    async fn a_request_without_one_starts_a_trace() {
        let seen = seen_by_handler(None)
            .await
            .expect("the handler runs in a traced span");

        let trace_id = trace_id_of(&seen).expect("a valid traceparent");
        assert_ne!(trace_id, INCOMING_TRACE_ID);
    }
}
