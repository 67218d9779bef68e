//! Report files in S3: the same build and download against moto's S3 server, run as a child
//! process this test owns. moto is a test tool (`scripts/install-test-tools` installs it); a
//! machine without it fails this test rather than skipping it.

use std::{net::TcpListener, process::Stdio, time::Duration};

use report_service::content::{S3Location, StorageLocation};
use secrecy::SecretString;
use tokio::process::{Child, Command};
use zayavki_identity::Role;

use crate::{
    fixtures::file_applications,
    helpers::{PATIENCE, spawn_system, summary_job},
};

const BUCKET: &str = "zayavki-reports";

/// moto's S3 server on a free loopback port, stopped when dropped.
struct Moto {
    url: String,
    _process: Child,
}

impl Moto {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run moto_server ({error}): the S3 test needs moto's server; install \
                     it with `pip install 'moto[server]'` or scripts/install-test-tools"
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        tokio::time::timeout(Duration::from_secs(30), async {
            while client.get(&url).send().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("moto_server answers within 30 s");
        client
            .put(format!("{url}/{BUCKET}"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the bucket is created");
        Self {
            url,
            _process: process,
        }
    }
}

#[tokio::test]
async fn reports_are_stored_in_and_downloaded_from_s3() {
    let moto = Moto::start().await;
    let endpoint = moto.url.clone();
    let system = spawn_system(move |settings| {
        settings.storage = StorageLocation::S3(S3Location {
            bucket: BUCKET.to_owned(),
            prefix: "reports/2026".to_owned(),
            endpoint: Some(endpoint),
            region: Some("us-east-1".to_owned()),
            credentials: Some(("testing".to_owned(), SecretString::from("testing"))),
        });
    })
    .await;
    file_applications(&system).await;

    let report_id = system.build(&summary_job("olga", "operator", "CSV")).await;
    let body = system.download(report_id, "olga", &[Role::Operator]).await;

    assert!(body.starts_with(b"\xEF\xBB\xBF"), "the CSV came back whole");
    let listing = reqwest::get(format!(
        "{}/{BUCKET}?list-type=2&prefix=reports/2026/",
        moto.url
    ))
    .await
    .expect("moto answers")
    .text()
    .await
    .expect("a listing");
    assert!(
        listing.contains(&format!("<Key>reports/2026/{report_id}.csv</Key>")),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("<Size>{}</Size>", body.len())),
        "{listing}"
    );
    let ready = tokio::time::timeout(PATIENCE, system.http.get(system.url("/readyz")).send())
        .await
        .expect("answered in time")
        .expect("answered");
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
}
