//! Messages the tests put on the broker themselves, and what reaches business-process's
//! dead-letter queue and report-events queue.

use std::time::Duration;

use business_process::domain::ProcessState;
use futures::StreamExt;
use lapin::{
    BasicProperties,
    options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable, ShortString},
};
use serde_json::json;
use uuid::Uuid;
use zayavki_common::amqp::topology;
use zayavki_proto::process::v1 as process_proto;

use crate::helpers::{PATIENCE, TestSystem, spawn_system};

/// The events application-service stored for `application_id`, oldest first: (id, body).
pub async fn stored_events(system: &TestSystem, application_id: Uuid) -> Vec<(Uuid, String)> {
    sqlx::query_as(
        "SELECT message_id, body::text FROM outbox \
         WHERE body->>'applicationId' = $1 ORDER BY change_xid, id",
    )
    .bind(application_id.to_string())
    .fetch_all(&system.applications_pool)
    .await
    .expect("outbox readable")
}

/// A channel whose publishes are confirmed: awaiting the confirm means the broker has the
/// message before the connection is dropped.
pub async fn confirming_channel(system: &TestSystem) -> (lapin::Connection, lapin::Channel) {
    let (connection, channel) = system.broker.channel().await.expect("broker reachable");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms on");
    (connection, channel)
}

/// Publishes `body` straight to business-process's queue, as the relay would.
pub async fn deliver(system: &TestSystem, message_id: Uuid, body: &str) {
    let (_connection, channel) = confirming_channel(system).await;
    let confirmation = channel
        .basic_publish(
            ShortString::from(""),
            ShortString::from(topology::BUSINESS_PROCESS_APPLICATION_EVENTS),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body.as_bytes(),
            BasicProperties::default()
                .with_message_id(ShortString::from(message_id.to_string()))
                .with_delivery_mode(2),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    assert!(
        confirmation.is_ack() && confirmation.take_message().is_none(),
        "the broker put the message on {}",
        topology::BUSINESS_PROCESS_APPLICATION_EVENTS
    );
}

/// Publishes a report event to `reports.events`, as report-service would.
async fn publish_report_event(system: &TestSystem, body: serde_json::Value) {
    let (_connection, channel) = confirming_channel(system).await;
    let kind = body["type"].as_str().expect("a type").to_owned();
    channel
        .basic_publish(
            ShortString::from(topology::REPORTS_EVENTS),
            ShortString::from(kind),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default()
                .with_message_id(ShortString::from(body["eventId"].as_str().expect("an id")))
                .with_delivery_mode(2),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
}

/// Waits (bounded) until `condition` holds, checking after each short pause: for effects that
/// announce themselves nowhere a test can listen.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tokio::time::timeout(PATIENCE, async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} never happened"));
}

#[tokio::test]
async fn an_unreadable_event_is_dead_lettered_with_its_reason_and_the_queue_goes_on() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let (_connection, channel) = system.broker.channel().await.expect("broker reachable");
    let dead_queue = topology::dead_letter_queue(topology::BUSINESS_PROCESS_APPLICATION_EVENTS);
    let mut dead = channel
        .basic_consume(
            ShortString::from(dead_queue.as_str()),
            ShortString::from("test"),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consuming the dead-letter queue");

    let poison = Uuid::new_v4();
    deliver(&system, poison, "{not json").await;
    let dead_letter = tokio::time::timeout(PATIENCE, dead.next())
        .await
        .expect("the poison message is dead-lettered")
        .expect("the consumer is open")
        .expect("a delivery");
    assert_eq!(dead_letter.data, b"{not json");
    assert_eq!(
        dead_letter
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str()),
        Some(poison.to_string().as_str())
    );
    let headers = dead_letter
        .properties
        .headers()
        .clone()
        .expect("headers with the reason");
    let reason = match headers.inner().get("x-failure-reason") {
        Some(AMQPValue::LongString(reason)) => reason.to_string(),
        other => panic!("no x-failure-reason header: {other:?}"),
    };
    assert!(!reason.is_empty());

    // It does not block what follows.
    let id = system.file("hanna", "Степлер", "15.00").await;
    watcher.wait_for(id, ProcessState::Completed).await;

    // Operators see it in the consumer's metrics.
    let metrics = system.metrics().await;
    let queue = topology::BUSINESS_PROCESS_APPLICATION_EVENTS;
    for line in [
        format!("zayavki_consumer_connected{{queue=\"{queue}\"}} 1"),
        format!("zayavki_consumer_messages_total{{queue=\"{queue}\",outcome=\"dead_lettered\"}} 1"),
    ] {
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
    assert!(metrics.contains(&format!(
        "zayavki_consumer_messages_total{{queue=\"{queue}\",outcome=\"done\"}}"
    )));
}

fn report_event(kind: &str, report_id: &str) -> serde_json::Value {
    json!({
        "eventId": Uuid::new_v4(),
        "type": kind,
        "reportId": report_id,
        "owner": "hanna",
        "format": "CSV",
        "size": 1234,
        "reason": (kind == "report.failed").then_some("export unavailable"),
        "occurredAt": "2026-12-03T10:00:00Z",
    })
}

#[tokio::test]
async fn report_outcomes_join_the_process_history_once() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let first = system.file("hanna", "Ручки", "25.00").await;
    let second = system.file("hanna", "Карандаши", "15.00").await;
    watcher.wait_for(first, ProcessState::Completed).await;
    watcher.wait_for(second, ProcessState::Completed).await;
    let report_of = |process: process_proto::Process| {
        process
            .purchase_report_id
            .expect("a purchase report was requested")
    };
    let first_report = report_of(system.process(first).await);
    let second_report = report_of(system.process(second).await);

    // One queue, handled in order: once the last event shows, every earlier one was handled.
    let completed = report_event("report.completed", &first_report);
    publish_report_event(
        &system,
        report_event("report.failed", &Uuid::new_v4().to_string()),
    )
    .await;
    publish_report_event(&system, completed.clone()).await;
    publish_report_event(&system, completed).await;
    publish_report_event(&system, report_event("report.failed", &second_report)).await;
    eventually("the last report outcome in the history", || async {
        system.step_count(second, "report.failed").await == 1
    })
    .await;

    assert_eq!(
        system.step_count(first, "report.completed").await,
        1,
        "the duplicate had no effect"
    );
    assert_eq!(system.step_count(first, "report.failed").await, 0);
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM process_steps WHERE application_id = $1 AND step = 'report.completed'",
    )
    .bind(first)
    .fetch_one(&system.process_pool)
    .await
    .expect("the step");
    assert_eq!(details["reportId"], first_report);
    assert_eq!(details["size"], 1234);
    assert_eq!(
        details["download"],
        format!("/reports/{first_report}/download")
    );
    let steps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM process_steps WHERE step IN ('report.completed', 'report.failed')",
    )
    .fetch_one(&system.process_pool)
    .await
    .expect("steps");
    assert_eq!(
        steps, 2,
        "a report nobody here requested is no process's history"
    );
}
