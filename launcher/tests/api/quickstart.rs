//! What the start command prints: every address, tokens, and example lines that work when
//! pasted (each runs through a real shell with the real grpcurl and curl against the system).

use crate::helpers::{PATIENCE, start_system};

#[tokio::test]
async fn every_address_is_printed_and_the_examples_succeed_when_pasted() {
    let system = start_system().await;
    let state = system.state();
    let addresses = &state.addresses;
    let application = addresses.application.expect("application-service runs");
    let process = addresses.process.expect("business-process runs");
    let reports = addresses.reports.expect("report-service runs");
    let sink = addresses
        .notification_sink
        .expect("no NOTIFIER_URL, so the sink runs");

    let printed = system.stdout.snapshot().join("\n");
    for expected in [
        format!("gRPC {}", application.grpc),
        format!("REST http://{}", application.http),
        format!("gRPC {}", process.grpc),
        format!("HTTP http://{}", process.http),
        format!("WebSocket ws://{reports}/ws"),
        format!("downloads http://{reports}/reports"),
        format!("http://{sink}/notifications"),
        "RabbitMQ UI          http://127.0.0.1:15672 (login guest/guest)".to_owned(),
        "subprotocol `bearer, <token>`".to_owned(),
    ] {
        assert!(printed.contains(&expected), "{expected} in\n{printed}");
    }

    let examples = system.printed_examples();
    assert_eq!(examples.len(), 8, "{examples:?}");
    for (calls, address) in [
        ("applications.v1.", application.grpc.to_string()),
        ("/applications", application.http.to_string()),
        ("process.v1.", process.grpc.to_string()),
        ("/reports", reports.to_string()),
        ("/notifications", sink.to_string()),
    ] {
        let matching: Vec<&String> = examples
            .iter()
            .filter(|example| example.contains(calls))
            .collect();
        assert!(!matching.is_empty(), "an example calls {calls}");
        assert!(
            matching.iter().all(|example| example.contains(&address)),
            "{calls} examples call {address}: {matching:?}"
        );
    }
    for example in &examples {
        let run = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(example)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(PATIENCE, run)
            .await
            .expect("the example finishes")
            .expect("shell runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{example}\nfailed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value =
            serde_json::from_str(&stdout).expect("each example prints JSON");
        assert!(answer.is_object(), "{answer}");
    }

    let status = system.stop_with(rustix::process::Signal::TERM).await;
    assert!(status.success(), "{status}");
}
