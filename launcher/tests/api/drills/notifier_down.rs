//! Drill 4: the notification service is down for the whole run: every process still completes,
//! the notifications wait, and once the service is back each is accepted once (repeats are
//! counted; the service deduplicates on the notification id).

use std::{collections::BTreeSet, net::SocketAddr};

use business_process::notifier::{NotificationSink, sink::ReceivedList};
use zayavki_common::shutdown::CancellationToken;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    CreateApplicationRequest, application_service_client::ApplicationServiceClient,
};
use zayavki_testkit::TcpProxy;

use super::{Tally, count, database, drained, drill_settings, small_application, token};
use crate::helpers::{authorized, channel, eventually, http, start_system_with};

const APPLICATIONS: usize = 20;

#[tokio::test]
async fn processes_complete_while_the_notification_service_is_down_and_notify_once_it_is_back() {
    // The outside service: a sink the test owns, behind a proxy that refuses it at first.
    let sink = NotificationSink::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the sink listens");
    let sink_address = sink.address();
    let stop_sink = CancellationToken::new();
    tokio::spawn(sink.run_until_stopped(stop_sink.clone()));
    let proxy = TcpProxy::start(sink_address)
        .await
        .expect("the proxy listens");
    proxy.cut();
    let notifier_url = format!("http://{}", proxy.address());
    let system = start_system_with(&drill_settings(&[
        ("ZAYAVKI_SERVICES", "application,process"),
        ("NOTIFIER_URL", &notifier_url),
        ("NOTIFIER_TIMEOUT_MS", "1000"),
        ("NOTIFIER_BREAKER_OPEN_SECONDS", "1"),
    ]))
    .await;
    let address = system.state().addresses.application.expect("runs").grpc;
    let mut applications = ApplicationServiceClient::new(channel(address).await);
    let alice = token("alice", Role::Applicant);
    let mut filed = 0;
    for index in 0..APPLICATIONS {
        let request = CreateApplicationRequest {
            request_id: format!("notify-{index}"),
            application: Some(small_application(format!("Тетради, заявка № {index}"))),
        };
        if applications
            .create_application(authorized(request, &alice))
            .await
            .is_ok()
        {
            filed += 1;
        }
    }
    assert_eq!(filed, APPLICATIONS);

    let processes = database(&system, "PROCESS_DATABASE_URL").await;
    let completed = eventually("every process completing without notifications", || async {
        let done = count(
            &processes,
            "SELECT count(*) FROM processes WHERE state = 'COMPLETED'",
        )
        .await;
        (done >= APPLICATIONS as i64).then_some(done)
    })
    .await;
    assert_eq!(
        completed,
        Some(APPLICATIONS as i64),
        "{}",
        system.transcript()
    );
    let failed_attempts = eventually("delivery being tried and failing", || async {
        let tried = count(
            &processes,
            "SELECT count(*) FROM notifications WHERE attempts > 0 AND delivered_at IS NULL",
        )
        .await;
        (tried > 0).then_some(tried)
    })
    .await;
    assert!(failed_attempts.is_some(), "{}", system.transcript());
    let queued: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM notifications")
        .fetch_all(&processes)
        .await
        .expect("notifications");
    let delivered_while_down = count(
        &processes,
        "SELECT count(*) FROM notifications WHERE delivered_at IS NOT NULL",
    )
    .await;
    assert_eq!(
        delivered_while_down, 0,
        "nothing reaches a service that is down"
    );
    assert!(
        queued.len() >= APPLICATIONS,
        "one per completion at least: {queued:?}"
    );

    proxy.restore();
    let expected: BTreeSet<uuid::Uuid> = queued.iter().copied().collect();
    let client = http();
    let received = drained("every queued notification accepted", || async {
        let list: ReceivedList = client
            .get(format!("http://{sink_address}/notifications"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let ids: BTreeSet<uuid::Uuid> = list.notifications.iter().map(|n| n.id).collect();
        expected.is_subset(&ids).then_some(list)
    })
    .await
    .unwrap_or_else(|| panic!("notifications still missing\n{}", system.transcript()));
    let delivered = drained("every notification marked delivered", || async {
        let delivered = count(
            &processes,
            "SELECT count(*) FROM notifications WHERE delivered_at IS NOT NULL",
        )
        .await;
        (delivered >= queued.len() as i64).then_some(delivered)
    })
    .await;
    let listed: BTreeSet<uuid::Uuid> = received.notifications.iter().map(|n| n.id).collect();
    println!(
        "drill 4: {} POSTs accepted by the service, {} of them repeats of an id it had",
        received.received, received.repeats
    );
    stop_sink.cancel();

    Tally {
        drill: "drill 4 (notification service down for the whole run)",
        sent: queued.len(),
        acknowledged: usize::try_from(delivered.unwrap_or_default()).unwrap_or_default(),
        present: listed.intersection(&expected).count(),
        duplicated: received.notifications.len() - listed.len()
            + listed.difference(&expected).count(),
    }
    .check();
}
