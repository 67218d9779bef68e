//! The whole system as people run it: `zayavki start` with every service, called only from
//! outside: grpcurl for the APIs, a browser's WebSocket for report events, plain HTTP for
//! downloads and the notification sink, RabbitMQ's management API for the topology, and a tap
//! on every exchange whose messages are checked against asyncapi/asyncapi.yaml.

use std::net::SocketAddr;

use business_process::notifier::sink::ReceivedList;
use rustix::process::Signal;
use serde_json::{Value, json};

use crate::{
    asyncapi::Contract,
    grpcurl,
    helpers::{StartedSystem, eventually, http, start_system},
    rabbitmq::{Tap, is_bound, names},
    websocket::ReportSocket,
};

const CREATE: &str = "applications.v1.ApplicationService/CreateApplication";
const GET_PROCESS: &str = "process.v1.BusinessProcessService/GetProcess";
const DECIDE: &str = "process.v1.BusinessProcessService/DecideApplication";
const REQUEST_REPORT: &str = "process.v1.BusinessProcessService/RequestReport";

const SMALL_TITLE: &str = "Бумага офисная А4 для бухгалтерии";
const LARGE_TITLE: &str = "Ноутбук для отдела закупок";

/// The addresses and tokens a person reads from the start command's output.
struct Desk {
    application: SocketAddr,
    process: SocketAddr,
    reports: SocketAddr,
    sink: SocketAddr,
    alice: String,
    olga: String,
}

impl Desk {
    fn of(system: &StartedSystem) -> Self {
        let addresses = system.state().addresses;
        Self {
            application: addresses
                .application
                .expect("application-service runs")
                .grpc,
            process: addresses.process.expect("business-process runs").grpc,
            reports: addresses.reports.expect("report-service runs"),
            sink: addresses.notification_sink.expect("the sink runs"),
            alice: system.printed_token("alice"),
            olga: system.printed_token("olga"),
        }
    }

    async fn file(&self, title: &str, item: &str, unit_price: &str) -> String {
        let filed = grpcurl::expect(
            self.application,
            &self.alice,
            CREATE,
            &json!({
                "requestId": uuid::Uuid::new_v4().to_string(),
                "application": {
                    "title": title,
                    "items": [{"name": item, "quantity": 1, "unitPrice": unit_price}],
                },
            }),
        )
        .await;
        assert_eq!(filed["title"], title, "{filed}");
        filed["id"].as_str().expect("an id").to_owned()
    }

    /// The process once it is in `state` (e.g. `PROCESS_STATE_COMPLETED`), as an operator reads
    /// it.
    async fn process_in(&self, application_id: &str, state: &str) -> Value {
        let found = eventually(&format!("{application_id} reaching {state}"), || async {
            let process = grpcurl::call(
                self.process,
                &self.olga,
                GET_PROCESS,
                &json!({"applicationId": application_id}),
            )
            .await
            .ok()?;
            (process["state"] == state).then_some(process)
        })
        .await;
        found.unwrap_or_else(|| panic!("the process of {application_id} never reached {state}"))
    }

    async fn download(&self, completed: &Value) -> String {
        let url = completed["downloadUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no downloadUrl in {completed}"));
        assert!(url.starts_with("/reports/"), "relative: {url}");
        let answer = http()
            .get(format!("http://{}{url}", self.reports))
            .send()
            .await
            .expect("report-service answers");
        assert_eq!(answer.status(), 200, "{url}");
        answer.text().await.expect("the file")
    }
}

#[tokio::test]
async fn applications_filed_with_grpcurl_are_decided_notified_reported_and_pushed_to_the_browser() {
    let system = start_system().await;
    let desk = Desk::of(&system);
    let tap = Tap::open(system.setting("AMQP_URL")).await;
    let mut socket = ReportSocket::connect(desk.reports, &desk.alice).await;

    // A small purchase is approved at once.
    let small = desk.file(SMALL_TITLE, "Бумага А4", "62.75").await;
    let completed = desk.process_in(&small, "PROCESS_STATE_COMPLETED").await;
    assert_eq!(completed["applicant"], "alice");
    assert_eq!(completed["totalAmount"], "62.75");
    assert_eq!(
        completed["reservation"]["state"],
        "RESERVATION_STATE_COMMITTED"
    );
    let notified = eventually("the applicant being notified", || async {
        let received: ReceivedList = http()
            .get(format!("http://{}/notifications", desk.sink))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        received.notifications.into_iter().find(|notification| {
            notification
                .application_id
                .is_some_and(|id| id.to_string() == small)
        })
    })
    .await
    .unwrap_or_else(|| panic!("the sink received nothing\n{}", system.transcript()));
    assert_eq!(notified.recipient, "alice");
    let purchase_report = desk
        .process_in(&small, "PROCESS_STATE_COMPLETED")
        .await
        .get("purchaseReportId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no purchase report was requested: {completed}"));
    let pushed = socket.report_completed(&purchase_report).await;
    let purchase = desk.download(&pushed).await;
    assert!(purchase.contains(SMALL_TITLE), "{purchase}");

    // A large one waits for an operator.
    let large = desk.file(LARGE_TITLE, "Ноутбук", "1500.00").await;
    desk.process_in(&large, "PROCESS_STATE_AWAITING_DECISION")
        .await;
    let decided = grpcurl::expect(
        desk.process,
        &desk.olga,
        DECIDE,
        &json!({
            "applicationId": large,
            "decision": "DECISION_APPROVE",
            "comment": "Согласовано",
            "requestId": uuid::Uuid::new_v4().to_string(),
        }),
    )
    .await;
    assert_eq!(decided["applicationId"], large.as_str(), "{decided}");
    let approved = desk.process_in(&large, "PROCESS_STATE_COMPLETED").await;
    assert_eq!(approved["totalAmount"], "1500.00");

    // An on-demand summary of the applicant's applications.
    let requested = grpcurl::expect(
        desk.process,
        &desk.alice,
        REQUEST_REPORT,
        &json!({"kind": "REPORT_KIND_APPLICATIONS_SUMMARY", "format": "REPORT_FORMAT_CSV"}),
    )
    .await;
    let summary_id = requested["reportId"].as_str().expect("a report id");
    let pushed = socket.report_completed(summary_id).await;
    assert_eq!(pushed["format"], "CSV", "{pushed}");
    let summary = desk.download(&pushed).await;
    assert!(summary.contains(SMALL_TITLE), "{summary}");
    assert!(summary.contains(LARGE_TITLE), "{summary}");

    check_topology(&system).await;
    check_published_messages(&tap, summary_id).await;

    let status = system.stop_with(Signal::TERM).await;
    assert!(status.success(), "{status}");
}

/// Every exchange, queue and binding of ARCHITECTURE.md exists in the run's virtual host.
async fn check_topology(system: &StartedSystem) {
    let broker = system.broker();
    let exchanges = names(&broker.management_get("exchanges").await.expect("exchanges"));
    for exchange in [
        "applications.events",
        "reports",
        "reports.dead",
        "reports.events",
    ] {
        assert!(
            exchanges.iter().any(|name| name == exchange),
            "{exchange} in {exchanges:?}"
        );
    }
    let queues = names(&broker.management_get("queues").await.expect("queues"));
    for queue in [
        "business-process.application-events",
        "business-process.application-events.dead",
        "business-process.report-events",
        "business-process.report-events.dead",
        "report-service.application-events",
        "report-service.application-events.dead",
        "reports.jobs",
        "reports.jobs.retry.10s",
        "reports.jobs.retry.1m",
        "reports.jobs.retry.5m",
        "reports.jobs.dead",
    ] {
        assert!(
            queues.iter().any(|name| name == queue),
            "{queue} in {queues:?}"
        );
    }
    let bindings = broker.management_get("bindings").await.expect("bindings");
    for (exchange, queue, key) in [
        (
            "applications.events",
            "business-process.application-events",
            "application.#",
        ),
        (
            "applications.events",
            "report-service.application-events",
            "application.status_changed",
        ),
        ("reports", "reports.jobs", "report.job"),
        ("reports.dead", "reports.jobs.dead", ""),
        (
            "reports.events",
            "business-process.report-events",
            "report.completed",
        ),
        (
            "reports.events",
            "business-process.report-events",
            "report.failed",
        ),
    ] {
        assert!(
            is_bound(&bindings, exchange, queue, key),
            "{exchange} -> {queue} ({key:?}) in {bindings}"
        );
    }
}

/// Every message published during the run keeps asyncapi.yaml and the properties contract.
async fn check_published_messages(tap: &Tap, last_report: &str) {
    let contract = Contract::load();
    let published = eventually("the tap seeing the summary's report.completed", || async {
        let published = tap.snapshot();
        published
            .iter()
            .any(|message| {
                message.routing_key == "report.completed"
                    && message.json()["reportId"] == last_report
            })
            .then_some(published)
    })
    .await
    .expect("report.completed was published");
    let mut problems = Vec::new();
    let mut by_key = std::collections::BTreeMap::<&str, usize>::new();
    for message in &published {
        *by_key.entry(message.routing_key.as_str()).or_default() += 1;
        problems.extend(contract.problems(message));
    }
    println!("published during the run, by routing key: {by_key:?}");
    for expected in [
        "application.created",
        "application.status_changed",
        "report.job",
        "report.completed",
    ] {
        assert!(by_key.contains_key(expected), "no {expected}: {by_key:?}");
    }
    assert!(
        by_key
            .keys()
            .all(|key| contract.routing_keys().any(|known| known == *key)),
        "{by_key:?}"
    );
    assert!(problems.is_empty(), "{problems:#?}");
}
