//! A tower layer that counts and times every request a server answers, for tonic and axum
//! servers alike: `zayavki_requests_total` and `zayavki_request_duration_seconds`, labelled by
//! `protocol`, `method` and `status`.
//!
//! An exchange is recorded when its response body ends, not when the response head leaves: a
//! gRPC call's outcome is often known only then. tonic answers a failed unary call with
//! `grpc-status` in the response headers (trailers-only) but a successful one, and any stream,
//! with `grpc-status` in the trailers after the messages. A body dropped before it ended (the
//! caller went away) is recorded at that moment.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Instant,
};

use axum::extract::MatchedPath;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use metrics::{Label, SharedString};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{
    REQUEST_DURATION_SECONDS, REQUESTS_TOTAL,
    grpc_methods::{GrpcMethods, UNKNOWN_METHOD},
};

/// gRPC status names by code, as the gRPC documentation spells them.
const GRPC_STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
/// What a gRPC client reports for a call whose answer ended without a status.
const GRPC_NO_STATUS: &str = "UNKNOWN";
/// What a gRPC client reports for a call whose answer broke off.
const GRPC_BROKEN_OFF: &str = "INTERNAL";
/// The caller went away before the answer ended.
const GRPC_CALLER_LEFT: &str = "CANCELLED";
/// The caller went away before any answer; the code some proxies log for it.
const HTTP_CALLER_LEFT: &str = "499";
const HTTP_SERVER_FAILED: &str = "500";

/// Records requests for a server; see the module documentation.
#[derive(Clone, Debug)]
pub struct RequestMetricsLayer {
    protocol: Protocol,
}

#[derive(Clone, Debug)]
enum Protocol {
    /// The method label is the request path when it names one of these methods.
    Grpc(GrpcMethods),
    /// The method label is the HTTP method and the route template axum matched
    /// (`GET /applications/{id}`).
    Http,
}

impl RequestMetricsLayer {
    /// For a tonic server (`Server::builder().layer(…)`), inside any gRPC-Web translation so
    /// that it sees gRPC statuses, and outside authentication so that refusals count.
    pub fn grpc(methods: GrpcMethods) -> Self {
        Self {
            protocol: Protocol::Grpc(methods),
        }
    }

    /// For an axum router, added with `Router::layer` after every route and the fallback:
    /// axum applies such a layer once a request is routed, so the route template is known.
    /// Requests no route matches share the method label `unknown`.
    pub fn http() -> Self {
        Self {
            protocol: Protocol::Http,
        }
    }
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics {
            inner,
            protocol: self.protocol.clone(),
        }
    }
}

/// The service [`RequestMetricsLayer`] wraps around a server's.
#[derive(Clone, Debug)]
pub struct RequestMetrics<S> {
    inner: S,
    protocol: Protocol,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for RequestMetrics<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    ResponseBody: Body,
{
    type Response = Response<MetricsBody<ResponseBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let exchange = Exchange::start(&self.protocol, &request);
        ResponseFuture {
            inner: self.inner.call(request),
            exchange: Some(exchange),
        }
    }
}

pin_project! {
    /// The answer of a [`RequestMetrics`] service: the inner answer with its body watched.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        exchange: Option<Exchange>,
    }
}

impl<F, ResponseBody, Error> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, Error>>,
    ResponseBody: Body,
{
    type Output = Result<Response<MetricsBody<ResponseBody>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.inner.poll(cx));
        let mut exchange = this.exchange.take();
        Poll::Ready(match answer {
            Ok(response) => {
                if let Some(exchange) = exchange.as_mut() {
                    exchange.answered(&response);
                    // An answer without a body (a trailers-only gRPC error, a 204) may never
                    // be polled; it is complete now, before the caller sees it.
                    if response.body().is_end_stream() {
                        exchange.finish();
                    }
                }
                Ok(response.map(|inner| MetricsBody { inner, exchange }))
            }
            Err(error) => {
                if let Some(exchange) = exchange.as_mut() {
                    exchange.server_failed();
                }
                Err(error)
            }
        })
    }
}

pin_project! {
    /// A response body that records its exchange when it ends or is dropped.
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        exchange: Option<Exchange>,
    }
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(exchange) = this.exchange.as_mut() {
            match &frame {
                None => exchange.finish(),
                Some(Ok(frame)) => {
                    // Trailers are always the last frame.
                    if let Some(trailers) = frame.trailers_ref() {
                        exchange.saw_trailers(trailers);
                        exchange.finish();
                    } else if this.inner.is_end_stream() {
                        exchange.finish();
                    }
                }
                Some(Err(_)) => exchange.broke_off(),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One request on its way through the server, recorded exactly once.
struct Exchange {
    grpc: bool,
    method: SharedString,
    started: Instant,
    /// The outcome as far as it is known.
    status: Option<SharedString>,
    recorded: bool,
}

impl Exchange {
    fn start<B>(protocol: &Protocol, request: &Request<B>) -> Self {
        let method = match protocol {
            Protocol::Grpc(methods) => methods.label(request.uri().path()),
            Protocol::Http => request
                .extensions()
                .get::<MatchedPath>()
                .map_or(SharedString::const_str(UNKNOWN_METHOD), |matched| {
                    SharedString::from(format!("{} {}", request.method(), matched.as_str()))
                }),
        };
        Self {
            grpc: matches!(protocol, Protocol::Grpc(_)),
            method,
            started: Instant::now(),
            status: None,
            recorded: false,
        }
    }

    fn answered<B>(&mut self, response: &Response<B>) {
        self.status = if self.grpc {
            grpc_status(response.headers())
        } else {
            Some(http_status(response.status()))
        };
    }

    fn saw_trailers(&mut self, trailers: &HeaderMap) {
        if self.grpc
            && let Some(status) = grpc_status(trailers)
        {
            self.status = Some(status);
        }
    }

    /// The response body ended.
    fn finish(&mut self) {
        let status = self
            .status
            .take()
            .unwrap_or(SharedString::const_str(GRPC_NO_STATUS));
        self.record(status);
    }

    /// The response body failed half-way; an HTTP status has already been sent.
    fn broke_off(&mut self) {
        if self.grpc {
            self.status = Some(SharedString::const_str(GRPC_BROKEN_OFF));
        }
        self.finish();
    }

    /// The server answered with an error instead of a response.
    fn server_failed(&mut self) {
        let status = if self.grpc {
            GRPC_NO_STATUS
        } else {
            HTTP_SERVER_FAILED
        };
        self.record(SharedString::const_str(status));
    }

    fn record(&mut self, status: SharedString) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let protocol = if self.grpc { "grpc" } else { "http" };
        let labels = vec![
            Label::new("protocol", protocol),
            Label::new("method", self.method.clone()),
            Label::new("status", status),
        ];
        metrics::histogram!(REQUEST_DURATION_SECONDS, labels.clone())
            .record(self.started.elapsed().as_secs_f64());
        metrics::counter!(REQUESTS_TOTAL, labels).increment(1);
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        // A status already known stands (a trailers-only gRPC answer, an HTTP answer whose
        // body nobody read to the end); otherwise the caller left before the outcome.
        let status = self.status.take().unwrap_or_else(|| {
            SharedString::const_str(if self.grpc {
                GRPC_CALLER_LEFT
            } else {
                HTTP_CALLER_LEFT
            })
        });
        self.record(status);
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<SharedString> {
    let value = headers.get("grpc-status")?;
    let name = value
        .to_str()
        .ok()
        .and_then(|code| code.parse::<usize>().ok())
        .and_then(|code| GRPC_STATUS_NAMES.get(code))
        .copied()
        // The protocol reads a status it does not know as UNKNOWN.
        .unwrap_or(GRPC_NO_STATUS);
    Some(SharedString::const_str(name))
}

fn http_status(status: StatusCode) -> SharedString {
    SharedString::from(status.as_str().to_owned())
}
