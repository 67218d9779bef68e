//! Drill 3: the services' RabbitMQ connections are cut in the middle of a burst of 1,000
//! creates and restored: writes go on meanwhile, every application's events arrive once the
//! broker is back, and every process completes exactly once.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use futures::{StreamExt, stream};
use tokio::sync::watch;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    CreateApplicationRequest, application_service_client::ApplicationServiceClient,
};
use zayavki_testkit::TcpProxy;

use super::{
    Tally, count, database, drained, drill_settings, repeated_steps, small_application, token,
};
use crate::helpers::{authorized, channel, start_system_reaching_broker};

const CREATES: usize = 1_000;
const CONCURRENCY: usize = 16;
/// Acknowledged creates before the cut, and before the connections are restored.
const CUT_AFTER: usize = 250;
const RESTORE_AFTER: usize = 600;
const BROKER: &str = "127.0.0.1:5672";

#[tokio::test]
async fn applications_filed_while_rabbitmq_is_cut_off_all_complete_once() {
    let broker: SocketAddr = BROKER.parse().expect("an address");
    let proxy = TcpProxy::start(broker).await.expect("the proxy listens");
    let system = start_system_reaching_broker(
        &drill_settings(&[("ZAYAVKI_SERVICES", "application,process,sink")]),
        |vhost| vhost.url_via(proxy.address()),
    )
    .await;
    let address = system.state().addresses.application.expect("runs").grpc;
    let applications = ApplicationServiceClient::new(channel(address).await);
    let alice = token("alice", Role::Applicant);

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let (progress, watched) = watch::channel(0_usize);
    let cutter = async {
        let mut watched = watched.clone();
        watched.wait_for(|done| *done >= CUT_AFTER).await.ok();
        let before = proxy.connections_accepted();
        proxy.cut();
        watched.wait_for(|done| *done >= RESTORE_AFTER).await.ok();
        proxy.restore();
        before
    };
    let burst = stream::iter(0..CREATES)
        .map(|index| {
            let mut applications = applications.clone();
            let request = authorized(
                CreateApplicationRequest {
                    request_id: format!("burst-{index}"),
                    application: Some(small_application(format!("Скрепки, заявка № {index}"))),
                },
                &alice,
            );
            let (acknowledged, progress) = (acknowledged.clone(), progress.clone());
            async move {
                let answer = applications.create_application(request).await;
                if answer.is_ok() {
                    let done = acknowledged.fetch_add(1, Ordering::SeqCst) + 1;
                    progress.send_replace(done);
                }
                answer.map(|filed| filed.into_inner().id)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>();
    let (answers, connections_before_cut) = tokio::join!(burst, cutter);
    let failures: Vec<String> = answers
        .iter()
        .filter_map(|answer| answer.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(
        failures.is_empty(),
        "writes go on without RabbitMQ: {failures:?}"
    );

    let processes = database(&system, "PROCESS_DATABASE_URL").await;
    let completed = drained("every process completing", || async {
        let done = count(
            &processes,
            "SELECT count(*) FROM processes WHERE state = 'COMPLETED'",
        )
        .await;
        (done >= CREATES as i64).then_some(done)
    })
    .await;
    assert!(completed.is_some(), "{}", system.transcript());
    let reconnections = proxy.connections_accepted() - connections_before_cut;
    let applications_db = database(&system, "DATABASE_URL").await;
    let filed = count(&applications_db, "SELECT count(*) FROM applications").await;
    let completed_applications = count(
        &applications_db,
        "SELECT count(*) FROM applications WHERE status = 'COMPLETED'",
    )
    .await;
    let all_processes = count(&processes, "SELECT count(*) FROM processes").await;
    let repeated = repeated_steps(&processes).await;
    println!(
        "drill 3: {reconnections} connections to RabbitMQ after the cut, {completed_applications} \
         applications COMPLETED"
    );

    Tally {
        drill: "drill 3 (RabbitMQ cut during 1,000 creates)",
        sent: CREATES,
        acknowledged: acknowledged.load(Ordering::SeqCst),
        present: usize::try_from(completed.unwrap_or_default()).unwrap_or_default(),
        duplicated: usize::try_from(repeated + (all_processes - CREATES as i64))
            .unwrap_or_default()
            + usize::try_from(filed - CREATES as i64).unwrap_or_default(),
    }
    .check();
    assert_eq!(completed_applications, CREATES as i64);
    assert!(
        reconnections > 0,
        "the services reconnected through the proxy"
    );
}
