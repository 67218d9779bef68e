//! business-process runs beside application-service, each in its own process: it accepts the
//! same tokens, follows the applications filed there, and notifies through the development sink.

use business_process::notifier::sink::ReceivedList;
use rustix::process::Signal;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use zayavki_proto::{
    applications::v1::{
        ApplicationItem, CreateApplicationRequest, NewApplication,
        application_service_client::ApplicationServiceClient,
    },
    process::v1::{
        GetProcessRequest, ProcessState, ReservationState,
        business_process_service_client::BusinessProcessServiceClient,
    },
};

use crate::helpers::{PATIENCE, authorized, channel, eventually, http, start_system_with};

#[tokio::test]
async fn a_small_application_filed_with_application_service_completes_and_is_notified() {
    let system = start_system_with(&[("ZAYAVKI_SERVICES", "application,process,sink")]).await;
    let addresses = system.state().addresses;
    let application = addresses.application.expect("application-service runs");
    let process = addresses.process.expect("business-process runs");
    let process_channel = channel(process.grpc).await;
    let mut health = HealthClient::new(process_channel.clone())
        .watch(HealthCheckRequest {
            service: "process.v1.BusinessProcessService".to_owned(),
        })
        .await
        .expect("business-process answers health")
        .into_inner();
    tokio::time::timeout(PATIENCE, async {
        while let Some(answer) = health.message().await.expect("health stream") {
            if answer.status == ServingStatus::Serving as i32 {
                return;
            }
        }
        panic!("the health stream ended before SERVING");
    })
    .await
    .expect("business-process becomes SERVING");

    let alice = system.printed_token("alice");
    let filed = ApplicationServiceClient::new(channel(application.grpc).await)
        .create_application(authorized(
            CreateApplicationRequest {
                request_id: String::new(),
                application: Some(NewApplication {
                    title: "Ложки чайные для столовой".to_owned(),
                    description: None,
                    items: vec![ApplicationItem {
                        name: "Ложка чайная".to_owned(),
                        quantity: 12,
                        unit_price: "35.50".to_owned(),
                    }],
                }),
            },
            &alice,
        ))
        .await
        .expect("application filed")
        .into_inner();

    let operator = system.printed_token("olga");
    let processes = BusinessProcessServiceClient::new(process_channel);
    let completed = eventually("the process completing", || {
        let mut processes = processes.clone();
        let request = authorized(
            GetProcessRequest {
                application_id: filed.id.clone(),
            },
            &operator,
        );
        async move {
            let process = processes.get_process(request).await.ok()?.into_inner();
            (process.state == ProcessState::Completed as i32).then_some(process)
        }
    })
    .await
    .unwrap_or_else(|| panic!("the process did not complete\n{}", system.transcript()));
    assert_eq!(completed.applicant, "alice");
    assert_eq!(completed.total_amount, "426.00");
    let reservation = completed.reservation.expect("the total was reserved");
    assert_eq!(reservation.state, ReservationState::Committed as i32);
    assert!(completed.purchase_report_id.is_some());

    let sink = addresses
        .notification_sink
        .expect("no NOTIFIER_URL, so the sink runs");
    let http = http();
    let notified = eventually("the applicant being notified", || {
        let request = http.get(format!("http://{sink}/notifications")).send();
        let application_id = filed.id.clone();
        async move {
            let received: ReceivedList = request.await.ok()?.json().await.ok()?;
            received.notifications.into_iter().find(|notification| {
                notification
                    .application_id
                    .is_some_and(|id| id.to_string() == application_id)
            })
        }
    })
    .await
    .unwrap_or_else(|| panic!("nothing was notified\n{}", system.transcript()));
    assert_eq!(notified.recipient, "alice");

    let ready = http
        .get(format!("http://{}/readyz", process.http))
        .send()
        .await
        .expect("business-process answers HTTP");
    assert!(ready.status().is_success(), "{}", ready.status());

    let status = system.stop_with(Signal::TERM).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn no_sink_starts_when_notifications_go_to_a_configured_service() {
    let system = start_system_with(&[
        ("ZAYAVKI_SERVICES", "application,process,sink"),
        ("NOTIFIER_URL", "http://127.0.0.1:9/"),
    ])
    .await;
    let state = system.state();

    assert_eq!(state.addresses.notification_sink, None);
    assert!(state.service("notification-sink").is_none(), "{state:?}");
    let names: Vec<&str> = state
        .services
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    assert_eq!(names, ["application-service", "business-process"]);
    let printed = system.stdout.snapshot().join("\n");
    assert!(printed.contains("sent to NOTIFIER_URL"), "{printed}");
    let examples = system.printed_examples();
    assert!(!examples.is_empty());
    assert!(
        examples
            .iter()
            .all(|example| !example.contains("/notifications")),
        "{examples:?}"
    );

    let status = system.stop_with(Signal::TERM).await;
    assert!(status.success(), "{status}");
}
