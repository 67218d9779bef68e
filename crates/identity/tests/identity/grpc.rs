use std::{convert::Infallible, net::SocketAddr, time::Duration};

use http::{HeaderValue, Request, Response};
use tonic::{
    Code, Status, body::Body, service::InterceptorLayer, transport::server::TcpConnectInfo,
};
use tower::{ServiceBuilder, ServiceExt};
use zayavki_identity::{
    GrpcAuthLayer, GrpcThrottle, Identity, ManualClock, PublicPaths, Role, Throttle,
    ThrottleConfig, identity_from_request,
};

use crate::helpers::{hs256_config, hs256_token, verifier};

const METHOD: &str = "/zayavki.applications.v1.Applications/GetApplication";
const HEALTH: &str = "/grpc.health.v1.Health/Check";

/// Answers OK and reports the subject it saw in an `x-subject` header.
async fn echo_subject(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let request = tonic::Request::from_http(request);
    let mut response = Response::new(Body::empty());
    if let Ok(identity) = identity_from_request(&request) {
        let subject = HeaderValue::from_str(&identity.subject).expect("ascii subject");
        response.headers_mut().insert("x-subject", subject);
    }
    Ok(response)
}

fn call(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/grpc")
        .body(Body::empty())
        .expect("request");
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        request.headers_mut().insert("authorization", value);
    }
    request
}

fn status_of(response: &Response<Body>) -> Option<Status> {
    Status::from_header_map(response.headers())
}

#[tokio::test]
async fn public_paths_pass_without_a_token() {
    let service = ServiceBuilder::new()
        .layer(GrpcAuthLayer::new(verifier(&hs256_config())))
        .service_fn(echo_subject);

    let response = service
        .oneshot(call(HEALTH, None))
        .await
        .expect("infallible");

    assert!(status_of(&response).is_none(), "inner service answered");
}

#[tokio::test]
async fn a_missing_token_is_unauthenticated_with_a_message() {
    let service = ServiceBuilder::new()
        .layer(GrpcAuthLayer::new(verifier(&hs256_config())))
        .service_fn(echo_subject);

    let response = service
        .oneshot(call(METHOD, None))
        .await
        .expect("infallible");

    let status = status_of(&response).expect("grpc status");
    assert_eq!(response.headers()["grpc-status"], "16");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("authorization: Bearer"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn an_invalid_token_is_unauthenticated_with_the_reason() {
    let service = ServiceBuilder::new()
        .layer(GrpcAuthLayer::new(verifier(&hs256_config())))
        .service_fn(echo_subject);

    let response = service
        .oneshot(call(METHOD, Some("not-a-jwt")))
        .await
        .expect("infallible");

    let status = status_of(&response).expect("grpc status");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("not a well-formed JWT"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_good_token_reaches_the_service_with_its_identity() {
    let service = ServiceBuilder::new()
        .layer(GrpcAuthLayer::new(verifier(&hs256_config())))
        .service_fn(echo_subject);
    let token = hs256_token("user-7", &[Role::Applicant]);

    let response = service
        .oneshot(call(METHOD, Some(&token)))
        .await
        .expect("infallible");

    assert!(status_of(&response).is_none());
    assert_eq!(response.headers()["x-subject"], "user-7");
}

#[tokio::test]
async fn public_paths_are_configurable() {
    let layer =
        GrpcAuthLayer::new(verifier(&hs256_config())).with_public_paths(PublicPaths::none());
    let service = ServiceBuilder::new().layer(layer).service_fn(echo_subject);

    let response = service
        .oneshot(call(HEALTH, None))
        .await
        .expect("infallible");

    assert_eq!(
        status_of(&response).map(|status| status.code()),
        Some(Code::Unauthenticated)
    );
}

#[test]
fn handlers_read_the_identity_or_get_unauthenticated() {
    let mut request = tonic::Request::new(());
    assert_eq!(
        identity_from_request(&request).map_err(|status| status.code()),
        Err(Code::Unauthenticated)
    );

    request.extensions_mut().insert(Identity::new("user-1"));
    assert_eq!(
        identity_from_request(&request)
            .map(|identity| identity.subject.as_str())
            .ok(),
        Some("user-1")
    );
}

/// Time stands still, so every refusal below is certain however slowly the calls run.
fn throttled_stack(
    burst: u32,
) -> impl tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send>
+ Clone {
    let throttle = Throttle::new(ThrottleConfig {
        per_second: 1,
        burst,
        clock: ManualClock::new().into(),
        ..ThrottleConfig::default()
    })
    .expect("throttle");
    ServiceBuilder::new()
        .layer(GrpcAuthLayer::new(verifier(&hs256_config())))
        .layer(InterceptorLayer::new(GrpcThrottle::new(throttle)))
        .service_fn(echo_subject)
}

#[tokio::test]
async fn calls_beyond_the_burst_are_resource_exhausted_with_retry_after() {
    let service = throttled_stack(2);
    let token = hs256_token("user-1", &[]);
    let other = hs256_token("user-2", &[]);

    for _ in 0..2 {
        let response = service
            .clone()
            .oneshot(call(METHOD, Some(&token)))
            .await
            .expect("ok");
        assert!(status_of(&response).is_none());
    }
    let refused = service
        .clone()
        .oneshot(call(METHOD, Some(&token)))
        .await
        .expect("ok");
    let someone_else = service
        .clone()
        .oneshot(call(METHOD, Some(&other)))
        .await
        .expect("ok");

    let status = status_of(&refused).expect("grpc status");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status.message().contains("retry in 1 s"),
        "{}",
        status.message()
    );
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(
        status_of(&someone_else).is_none(),
        "buckets are per subject"
    );
}

#[tokio::test]
async fn anonymous_calls_are_throttled_by_peer_address() {
    let service = throttled_stack(1);
    let from = |address: [u8; 4]| {
        let mut request = call(HEALTH, None);
        request.extensions_mut().insert(TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(SocketAddr::from((address, 50_000))),
        });
        request
    };

    let first = service
        .clone()
        .oneshot(from([10, 0, 0, 1]))
        .await
        .expect("ok");
    let second = service
        .clone()
        .oneshot(from([10, 0, 0, 1]))
        .await
        .expect("ok");
    let elsewhere = service
        .clone()
        .oneshot(from([10, 0, 0, 2]))
        .await
        .expect("ok");

    assert!(status_of(&first).is_none());
    assert_eq!(
        status_of(&second).map(|status| status.code()),
        Some(Code::ResourceExhausted)
    );
    assert!(status_of(&elsewhere).is_none());
}

/// The layers in a real tonic server, called through a real client.
#[tokio::test]
async fn the_layers_work_in_a_tonic_server() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let throttle = Throttle::new(ThrottleConfig::default()).expect("throttle");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(
                GrpcAuthLayer::new(verifier(&hs256_config()))
                    .with_public_paths(PublicPaths::none()),
            )
            .layer(InterceptorLayer::new(GrpcThrottle::new(throttle)))
            .add_service(health)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    stopped.await.ok();
                },
            ),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::new(channel);

    let refused = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect_err("no token");
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    let bearer = format!("Bearer {}", hs256_token("probe", &[Role::Service]));
    request
        .metadata_mut()
        .insert("authorization", bearer.parse().expect("metadata"));
    let accepted = client.check(request).await;

    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(accepted.is_ok(), "{accepted:?}");
    stop.send(()).ok();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops")
        .expect("server task")
        .expect("server ran");
}
