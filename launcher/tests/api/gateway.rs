//! The gateway as clients meet it: HAProxy, configured and started by `zayavki start`, in front
//! of two replicas of each service. Everything goes through its one port (and its TLS port):
//! REST, gRPC by reflection, gRPC-Web, the report WebSocket, the web app; a replica killed under
//! load, every replica gone, and a burst over the edge limit.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use prost::Message as _;
use rustix::process::Signal;
use serde_json::{Value, json};
use tonic::Code;
use zayavki::addresses::GatewayAddresses;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

use crate::{
    grpcurl,
    helpers::{
        PATIENCE, StartedSystem, authorized, channel, eventually, http, send, start_system_with,
    },
    websocket::ReportSocket,
};

/// Reads in the load while a replica is killed, across all workers.
const LOAD_REQUESTS: usize = 600;
const LOAD_WORKERS: usize = 4;
/// Reads done before the replica is killed.
const KILL_AFTER: usize = 150;
/// One read may take at most this long before it counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

fn gateway_of(system: &StartedSystem) -> GatewayAddresses {
    system.state().addresses.gateway.expect("the gateway runs")
}

/// The gateway's access log: one JSON object per request, on its output.
fn access_log(system: &StartedSystem) -> Vec<Value> {
    system
        .stdout
        .snapshot()
        .iter()
        .filter_map(|line| line.strip_prefix("gateway"))
        .filter_map(|rest| rest.split_once("| ").map(|(_, json)| json))
        .filter_map(|json| serde_json::from_str::<Value>(json).ok())
        .collect()
}

async fn file_over_rest(gateway: SocketAddr, token: &str, title: &str) -> Value {
    let answer = http()
        .post(format!("http://{gateway}/applications"))
        .bearer_auth(token)
        .json(&json!({
            "title": title,
            "items": [{"name": "Бумага А4", "quantity": 2, "unitPrice": "31.25"}],
        }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(answer.status(), 201);
    answer.json().await.expect("the application")
}

/// A gRPC-Web call as a browser makes it: one length-prefixed message in, data and trailer
/// frames out.
async fn grpc_web_get(gateway: SocketAddr, token: &str, id: &str) -> pb::Application {
    let message = pb::GetApplicationRequest { id: id.to_owned() }.encode_to_vec();
    let mut body = vec![0];
    body.extend(u32::try_from(message.len()).expect("small").to_be_bytes());
    body.extend(message);
    let answer = http()
        .post(format!(
            "http://{gateway}/applications.v1.ApplicationService/GetApplication"
        ))
        .bearer_auth(token)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(answer.status(), 200);
    let bytes = answer.bytes().await.expect("a body");
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 5 {
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        frames.push((rest[0], rest[5..5 + length].to_vec()));
        rest = &rest[5 + length..];
    }
    let trailers = frames
        .iter()
        .find(|(flags, _)| flags & 0x80 != 0)
        .map(|(_, trailers)| String::from_utf8_lossy(trailers).to_lowercase())
        .expect("a trailer frame");
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let (_, data) = frames
        .iter()
        .find(|(flags, _)| flags & 0x80 == 0)
        .expect("a data frame");
    pb::Application::decode(&data[..]).expect("an application")
}

/// `grpcurl -plaintext <gateway> list`.
async fn grpcurl_list(gateway: SocketAddr) -> String {
    let output = tokio::process::Command::new("grpcurl")
        .args(["-plaintext", "-max-time", "30"])
        .arg(gateway.to_string())
        .arg("list")
        .env("NO_PROXY", "*")
        .kill_on_drop(true)
        .output()
        .await
        .expect("grpcurl runs (scripts/install-test-tools installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `curl` over TLS, trusting the gateway's certificate: the HTTP version and status.
async fn curl_over_tls(gateway: &GatewayAddresses, token: &str, path: &str) -> String {
    let url = format!("https://localhost:{}{path}", gateway.https.port());
    let output = tokio::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "30", "--cacert"])
        .arg(&gateway.certificate)
        .args(["-w", "%{http_version} %{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .env("NO_PROXY", "*")
        .kill_on_drop(true)
        .output()
        .await
        .expect("curl runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn one_port_serves_rest_grpc_grpc_web_websocket_and_the_app_across_two_replicas() {
    let system = start_system_with(&[("ZAYAVKI_REPLICAS", "2")]).await;
    let web_dir = std::path::Path::new(system.setting("WEB_DIR"));
    std::fs::create_dir_all(web_dir).expect("the web app's directory");
    std::fs::write(web_dir.join("index.html"), "<div id=root>zayavki</div>")
        .expect("the web app's page");
    let gateway = gateway_of(&system);
    let alice = system.printed_token("alice");
    let mut socket = ReportSocket::connect(gateway.http, &alice).await;

    // REST: filed once, read many times, spread over both replicas.
    let filed = file_over_rest(gateway.http, &alice, "Бумага для принтера").await;
    let id = filed["id"].as_str().expect("an id").to_owned();
    for _ in 0..20 {
        let read = http()
            .get(format!("http://{}/applications/{id}", gateway.http))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(read.status(), 200);
    }
    let servers = eventually("reads from both replicas in the access log", || async {
        let servers: std::collections::BTreeSet<String> = access_log(&system)
            .iter()
            .filter(|entry| entry["path"] == format!("/applications/{id}"))
            .filter_map(|entry| entry["server"].as_str().map(str::to_owned))
            .collect();
        (servers.len() == 2).then_some(servers)
    })
    .await;
    assert_eq!(
        servers.map(|servers| servers.into_iter().collect::<Vec<_>>()),
        Some(vec![
            "application-http-1".to_owned(),
            "application-http-2".to_owned()
        ]),
        "{}",
        system.transcript()
    );

    // The trace id the gateway made for the create is the one application-service logged.
    let created = access_log(&system)
        .into_iter()
        .find(|entry| entry["method"] == "POST" && entry["path"] == "/applications")
        .expect("the create is logged");
    assert_eq!(created["status"], 201, "{created}");
    let trace_id = created["trace_id"].as_str().expect("a trace id").to_owned();
    assert_eq!(trace_id.len(), 32, "{created}");
    let logged = system
        .stdout
        .wait_for(|line| {
            line.starts_with("application-service")
                && line.contains(&format!("trace_id={trace_id}"))
        })
        .await;
    assert!(logged.is_some(), "{}", system.transcript());

    // gRPC by reflection, to both services, through the one port.
    let listed = grpcurl_list(gateway.http).await;
    for service in [
        "applications.v1.ApplicationService",
        "process.v1.BusinessProcessService",
        "grpc.health.v1.Health",
    ] {
        assert!(listed.contains(service), "{service} in {listed}");
    }
    let read = grpcurl::expect(
        gateway.http,
        &alice,
        "applications.v1.ApplicationService/GetApplication",
        &json!({"id": id}),
    )
    .await;
    assert_eq!(read["title"], "Бумага для принтера");

    // gRPC-Web, as the browser calls it.
    let read = grpc_web_get(gateway.http, &alice, &id).await;
    assert_eq!(read.title, "Бумага для принтера");

    // HTTP/2 over TLS.
    assert_eq!(
        curl_over_tls(&gateway, &alice, &format!("/applications/{id}")).await,
        "2 200"
    );

    // The purchase report of the approved application arrives on the WebSocket.
    let process = eventually("the process completing", || async {
        let process = grpcurl::call(
            gateway.http,
            &alice,
            "process.v1.BusinessProcessService/GetProcess",
            &json!({"applicationId": id}),
        )
        .await
        .ok()?;
        process["purchaseReportId"].is_string().then_some(process)
    })
    .await
    .unwrap_or_else(|| panic!("no purchase report\n{}", system.transcript()));
    let report_id = process["purchaseReportId"].as_str().expect("a report id");
    let completed = socket.report_completed(report_id).await;
    let url = completed["downloadUrl"].as_str().expect("a download URL");
    let download = http()
        .get(format!("http://{}{url}", gateway.http))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(download.status(), 200);
    assert!(
        download
            .text()
            .await
            .expect("the report")
            .contains("Бумага для принтера")
    );

    // The web app: `/` leads to it, and a deep link gets its page.
    let root = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .get(format!("http://{}/", gateway.http))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(root.status(), 302);
    assert_eq!(root.headers()["location"], "/app/");
    let deep = http()
        .get(format!("http://{}/app/applications/{id}", gateway.http))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(deep.status(), 200);
    assert_eq!(
        deep.text().await.expect("a page"),
        "<div id=root>zayavki</div>"
    );

    // Its own metrics, for Prometheus.
    let metrics = http()
        .get(format!("http://{}/metrics", gateway.stats))
        .send()
        .await
        .expect("the stats port answers")
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("haproxy_backend_http_responses_total"),
        "{metrics}"
    );

    let status = system.stop_with(Signal::TERM).await;
    assert!(status.success(), "{status}");
}

/// One `GetApplication` as a gRPC client library makes it: a stream the gateway refused
/// (HTTP/2 `REFUSED_STREAM`: it never reached a service) is sent again once, as gRPC's
/// transparent retry does; every other error is the caller's.
async fn get_over_grpc(
    grpc: &mut ApplicationServiceClient<tonic::transport::Channel>,
    id: &str,
    token: &str,
) -> Result<(), String> {
    let mut refused = false;
    loop {
        let call = grpc.get_application(authorized(
            pb::GetApplicationRequest { id: id.to_owned() },
            token,
        ));
        match tokio::time::timeout(READ_TIMEOUT, call).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(status)) if !refused && was_refused(&status) => refused = true,
            Ok(Err(status)) => return Err(format!("gRPC {status}")),
            Err(_) => return Err("gRPC timed out".to_owned()),
        }
    }
}

/// Whether the HTTP/2 stream carrying the call was refused before any processing.
fn was_refused(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error
            .downcast_ref::<h2::Error>()
            .is_some_and(|error| error.reason() == Some(h2::Reason::REFUSED_STREAM))
        {
            return true;
        }
        source = error.source();
    }
    false
}

#[tokio::test]
async fn a_replica_killed_under_a_load_of_reads_costs_no_read_and_comes_back() {
    let system = start_system_with(&[
        ("ZAYAVKI_REPLICAS", "2"),
        ("ZAYAVKI_SERVICES", "application,gateway"),
        // The killed replica stays away longer than HAProxy takes to mark it down (two failed
        // checks: at most 2 s + 0.5 s), so that is seen whatever the machine's pace.
        ("ZAYAVKI_RESTART_DELAY_MS", "5000"),
    ])
    .await;
    let gateway = gateway_of(&system);
    let alice = system.printed_token("alice");
    let id = file_over_rest(gateway.http, &alice, "Скрепки")
        .await
        .get("id")
        .and_then(Value::as_str)
        .expect("an id")
        .to_owned();
    let grpc = ApplicationServiceClient::new(channel(gateway.http).await);

    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..LOAD_WORKERS)
        .map(|worker| {
            let (done, failures, alice, id) =
                (done.clone(), failures.clone(), alice.clone(), id.clone());
            let mut grpc = grpc.clone();
            tokio::spawn(async move {
                for request in 0..LOAD_REQUESTS / LOAD_WORKERS {
                    let failure = if (worker + request) % 2 == 0 {
                        let answer = tokio::time::timeout(
                            READ_TIMEOUT,
                            http()
                                .get(format!("http://{}/applications/{id}", gateway.http))
                                .bearer_auth(&alice)
                                .send(),
                        )
                        .await;
                        match answer {
                            Ok(Ok(answer)) if answer.status() == 200 => None,
                            Ok(Ok(answer)) => Some(format!("REST {}", answer.status())),
                            Ok(Err(error)) => Some(format!("REST {error}")),
                            Err(_) => Some("REST timed out".to_owned()),
                        }
                    } else {
                        get_over_grpc(&mut grpc, &id, &alice).await.err()
                    };
                    if let Some(failure) = failure {
                        failures.lock().expect("failures").push(failure);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let killed = system.service_pid("application-service-2");
    let reached = eventually("the load under way", || async {
        (done.load(Ordering::Relaxed) >= KILL_AFTER).then_some(())
    })
    .await;
    assert!(reached.is_some(), "{}", system.transcript());
    send(killed, Signal::KILL);
    for worker in workers {
        tokio::time::timeout(PATIENCE, worker)
            .await
            .expect("the load ends")
            .expect("a worker ends");
    }

    assert_eq!(done.load(Ordering::Relaxed), LOAD_REQUESTS);
    let failures = failures.lock().expect("failures").clone();
    assert!(
        failures.is_empty(),
        "reads failed: {failures:?}\n{}",
        system.transcript()
    );
    // HAProxy prints its servers' state changes on stderr.
    let marked_down = system
        .stderr
        .wait_for(|line| line.contains("application-http-2 is DOWN"))
        .await;
    assert!(marked_down.is_some(), "{}", system.transcript());
    let restarted = system
        .wait_for_state("application-service-2 restarted", |state| {
            state
                .service("application-service-2")
                .is_some_and(|service| service.pid != Some(killed) && service.pid.is_some())
        })
        .await;
    drop(restarted);
    let back = system
        .stderr
        .wait_for(|line| line.contains("rest_application/application-http-2 is UP"))
        .await;
    assert!(back.is_some(), "{}", system.transcript());

    let status = system.stop_with(Signal::TERM).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn without_replicas_the_gateway_answers_unavailable_at_once_and_throttles_a_burst() {
    let system = start_system_with(&[
        ("ZAYAVKI_SERVICES", "gateway"),
        ("GATEWAY_EDGE_LIMIT", "12"),
    ])
    .await;
    let gateway = gateway_of(&system);

    // Nothing behind it: REST gets a problem, gRPC a status, both with Retry-After.
    let answer = http()
        .get(format!("http://{}/applications", gateway.http))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    assert!(answer.headers().contains_key("retry-after"));
    let problem: Value = answer.json().await.expect("a problem");
    assert_eq!(problem["status"], 503);

    let mut grpc = ApplicationServiceClient::new(channel(gateway.http).await);
    let refused = grpc
        .get_application(pb::GetApplicationRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("nothing serves it");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
    assert!(
        refused.metadata().contains_key("retry-after"),
        "{refused:?}"
    );

    // A burst from one address over the edge limit (12 per 10 s).
    let mut throttled = None;
    for _ in 0..30 {
        let answer = http()
            .get(format!("http://{}/applications", gateway.http))
            .send()
            .await
            .expect("the gateway answers");
        if answer.status() == 429 {
            throttled = Some(answer);
            break;
        }
    }
    let throttled = throttled.expect("the burst is throttled");
    assert!(throttled.headers().contains_key("retry-after"));
    assert_eq!(
        throttled.headers()["content-type"],
        "application/problem+json"
    );
    let refused = grpc
        .get_application(pb::GetApplicationRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("throttled");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused}");
    assert!(
        refused.metadata().contains_key("retry-after"),
        "{refused:?}"
    );

    let status = system.stop_with(Signal::TERM).await;
    assert!(status.success(), "{status}");
}
