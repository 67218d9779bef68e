//! The example lines printed at start-up work when pasted: each runs through a real shell with
//! the real grpcurl and curl against a running system.

use zayavki::quickstart::Quickstart;

use crate::helpers::launch;

#[tokio::test]
async fn printed_examples_succeed_when_pasted() {
    let system = launch().await;
    let quickstart = Quickstart::new(&system.minter, &system.addresses).expect("quickstart");

    let rendered = quickstart.render();
    assert!(rendered.contains(&quickstart.applicant_token));
    assert!(rendered.contains(&quickstart.operator_token));
    assert_eq!(quickstart.examples.len(), 7);
    let process_address = system.addresses.process_grpc.to_string();
    let sink_address = system
        .addresses
        .notification_sink
        .expect("no NOTIFIER_URL, so the sink runs")
        .to_string();
    for service in ["applications.v1.", "process.v1.", &sink_address] {
        assert!(
            quickstart
                .examples
                .iter()
                .any(|example| example.contains(service)),
            "an example calls {service}"
        );
    }
    assert!(
        quickstart
            .examples
            .iter()
            .filter(|example| example.contains("process.v1."))
            .all(|example| example.contains(&process_address)),
        "business-process examples call business-process"
    );
    for example in &quickstart.examples {
        assert!(rendered.contains(example.as_str()));
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(example)
            .output()
            .await
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

    system.stop().await;
}
