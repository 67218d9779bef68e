//! Where finished spans go: with an OTLP endpoint, batched to it over gRPC; without one they are
//! kept nowhere, and the trace layer only gives spans their ids (for propagation and logs).

use anyhow::Context as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};

/// The tracer provider of `service_name`, exporting to `otlp_endpoint` (an OTLP/gRPC collector
/// such as `http://127.0.0.1:4317`) when given. The exporter's channel runs on the current
/// Tokio runtime, so with an endpoint this is called on one.
pub fn tracer_provider(
    service_name: &str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let provider = SdkTracerProvider::builder().with_resource(resource);
    let Some(endpoint) = otlp_endpoint else {
        return Ok(provider.build());
    };
    tokio::runtime::Handle::try_current()
        .context("exporting spans over OTLP needs a Tokio runtime")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .with_context(|| format!("cannot export spans to {endpoint}"))?;
    Ok(provider.with_batch_exporter(exporter).build())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry_proto::tonic::{
        collector::trace::v1::{
            ExportTraceServiceRequest, ExportTraceServiceResponse,
            trace_service_server::{TraceService, TraceServiceServer},
        },
        common::v1::any_value,
    };
    use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
    use tonic::transport::server::TcpIncoming;

    use super::*;
    use crate::telemetry::{Logging, continue_trace};

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// An OTLP/gRPC collector on a loopback port that hands every export to the test.
    struct FakeCollector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

    #[tonic::async_trait]
    impl TraceService for FakeCollector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            drop(self.0.send(request.into_inner()));
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    async fn start_collector() -> (
        String,
        mpsc::UnboundedReceiver<ExportTraceServiceRequest>,
        JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("an address");
        let (exports, received) = mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            drop(
                tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(FakeCollector(exports)))
                    .serve_with_incoming(TcpIncoming::from(listener))
                    .await,
            );
        });
        (format!("http://{address}"), received, server)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_spans_reach_the_collector_under_the_service_name() {
        let (endpoint, mut received, collector) = start_collector().await;
        let traces = tracer_provider("zayavki-test", Some(&endpoint)).expect("an exporter");
        let subscriber = Logging::from_env("info")
            .silent()
            .subscriber(&traces, std::io::sink);
        {
            let _default = tracing::subscriber::set_default(subscriber);
            let span = tracing::info_span!("exported", trace_id = tracing::field::Empty);
            continue_trace(&span, Some(INCOMING));
            span.in_scope(|| tracing::warn!("inside"));
        }
        let flushing = traces.clone();
        tokio::task::spawn_blocking(move || flushing.force_flush())
            .await
            .expect("the flush ran")
            .expect("the batch was exported");

        let export = tokio::time::timeout(Duration::from_secs(30), received.recv())
            .await
            .expect("the collector hears from the exporter in time")
            .expect("an export");
        let resource_spans = &export.resource_spans[0];
        let service_name = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| {
                resource
                    .attributes
                    .iter()
                    .find(|attribute| attribute.key == "service.name")
            })
            .and_then(|attribute| attribute.value.as_ref()?.value.clone());
        assert_eq!(
            service_name,
            Some(any_value::Value::StringValue("zayavki-test".to_owned()))
        );
        let span = resource_spans
            .scope_spans
            .iter()
            .flat_map(|scope| &scope.spans)
            .find(|span| span.name == "exported")
            .expect("the span was exported");
        assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&span.parent_span_id), "00f067aa0ba902b7");
        assert!(
            span.events.iter().any(|event| event.name == "inside"),
            "{:?}",
            span.events
        );

        tokio::task::spawn_blocking(move || traces.shutdown())
            .await
            .expect("the shutdown ran")
            .expect("the exporter stopped");
        collector.abort();
    }

    #[test]
    fn exporting_outside_a_runtime_is_refused_with_the_reason() {
        let error = tracer_provider("zayavki-test", Some("http://127.0.0.1:4317"))
            .expect_err("no runtime to run the exporter on");

        assert!(format!("{error:#}").contains("Tokio runtime"), "{error:#}");
    }

    #[test]
    fn without_an_endpoint_spans_stay_in_the_process() {
        tracer_provider("zayavki-test", None).expect("a provider without exporter");
    }
}
