//! The topology function declares exactly what ARCHITECTURE.md lists, and declaring again (from
//! the same or another connection, against a broker that has it all) changes nothing.

use serde_json::Value;
use zayavki_common::amqp::{declare_topology, topology};
use zayavki_testkit::TestBroker;

fn find<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .and_then(|items| items.iter().find(|item| item["name"] == name))
        .unwrap_or_else(|| panic!("{name} is declared"))
}

#[tokio::test]
async fn declaring_twice_and_against_an_existing_topology_gives_the_agreed_topology() {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let (_first_connection, first) = broker.channel().await.expect("broker reachable");
    declare_topology(&first).await.expect("declared");
    declare_topology(&first)
        .await
        .expect("declared again on the same channel");
    let (_second_connection, second) = broker.channel().await.expect("broker reachable");
    declare_topology(&second)
        .await
        .expect("declared against an existing topology");

    let exchanges = broker.management_get("exchanges").await.expect("exchanges");
    for (name, kind) in [
        ("applications.events", "topic"),
        ("reports", "direct"),
        ("reports.dead", "fanout"),
        ("reports.events", "topic"),
    ] {
        let exchange = find(&exchanges, name);
        assert_eq!(exchange["type"], kind, "{name}");
        assert_eq!(exchange["durable"], true, "{name}");
    }

    let queues = broker.management_get("queues").await.expect("queues");
    let expected_queues = [
        "business-process.application-events",
        "business-process.application-events.dead",
        "business-process.report-events",
        "business-process.report-events.dead",
        "report-service.application-events",
        "report-service.application-events.dead",
        "reports.jobs",
        "reports.jobs.dead",
        "reports.jobs.retry.10s",
        "reports.jobs.retry.1m",
        "reports.jobs.retry.5m",
    ];
    let mut names: Vec<&str> = queues
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|queue| queue["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, expected_queues);
    let mut declared = topology::queue_names();
    declared.sort();
    assert_eq!(declared, expected_queues);
    for name in expected_queues {
        let queue = find(&queues, name);
        assert_eq!(queue["durable"], true, "{name}");
        assert_eq!(queue["arguments"]["x-queue-type"], "quorum", "{name}");
    }
    let arguments = |name: &str| find(&queues, name)["arguments"].clone();
    assert_eq!(
        arguments("business-process.application-events")["x-single-active-consumer"],
        true
    );
    let jobs = arguments("reports.jobs");
    assert_eq!(jobs["x-delivery-limit"], 5);
    assert_eq!(jobs["x-dead-letter-exchange"], "reports.dead");
    assert_eq!(jobs["x-dead-letter-strategy"], "at-least-once");
    assert_eq!(jobs["x-overflow"], "reject-publish");
    for (name, ttl) in [
        ("reports.jobs.retry.10s", 10_000),
        ("reports.jobs.retry.1m", 60_000),
        ("reports.jobs.retry.5m", 300_000),
    ] {
        let retry = arguments(name);
        assert_eq!(retry["x-message-ttl"], ttl, "{name}");
        assert_eq!(retry["x-dead-letter-exchange"], "reports", "{name}");
        assert_eq!(retry["x-dead-letter-routing-key"], "report.job", "{name}");
        assert_eq!(retry["x-dead-letter-strategy"], "at-least-once", "{name}");
        assert_eq!(retry["x-overflow"], "reject-publish", "{name}");
    }

    let bindings = broker.management_get("bindings").await.expect("bindings");
    let mut routes: Vec<(String, String, String)> = bindings
        .as_array()
        .expect("a list")
        .iter()
        .filter(|binding| binding["source"] != "")
        .map(|binding| {
            (
                binding["source"].as_str().unwrap_or_default().to_owned(),
                binding["destination"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                binding["routing_key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    routes.sort();
    let route = |source: &str, destination: &str, key: &str| {
        (source.to_owned(), destination.to_owned(), key.to_owned())
    };
    assert_eq!(
        routes,
        [
            route(
                "applications.events",
                "business-process.application-events",
                "application.#"
            ),
            route(
                "applications.events",
                "report-service.application-events",
                "application.status_changed"
            ),
            route("reports", "reports.jobs", "report.job"),
            route("reports.dead", "reports.jobs.dead", ""),
            route(
                "reports.events",
                "business-process.report-events",
                "report.completed"
            ),
            route(
                "reports.events",
                "business-process.report-events",
                "report.failed"
            ),
        ]
    );
}
