//! The example lines printed at start-up work when pasted: each runs through a real shell with
//! the real grpcurl and curl against a running system.

use application_service::config::Settings;
use zayavki::{quickstart::Quickstart, system::System};
use zayavki_common::shutdown::CancellationToken;
use zayavki_identity::{IdentityConfig, TokenMinter};
use zayavki_testkit::TestDatabase;

#[tokio::test]
async fn printed_examples_succeed_when_pasted() {
    let database = TestDatabase::fresh();
    let mut settings = Settings::for_database(database.url());
    let (identity, generated) = IdentityConfig::default()
        .or_development_key()
        .expect("a key is generated outside production");
    assert!(
        generated.is_some(),
        "no key was configured, so one is generated"
    );
    settings.identity = identity;
    let minter = TokenMinter::new(&settings.identity).expect("minter");
    let system = System::build(settings).await.expect("system starts");
    let quickstart = Quickstart::new(
        &minter,
        system.application_grpc_address(),
        system.application_http_address(),
    )
    .expect("quickstart");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(system.run_until_stopped(shutdown.clone()));

    let rendered = quickstart.render();
    assert!(rendered.contains(&quickstart.applicant_token));
    assert!(rendered.contains(&quickstart.operator_token));
    assert_eq!(quickstart.examples.len(), 4);
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

    shutdown.cancel();
    running.await.expect("joined").expect("clean stop");
}
