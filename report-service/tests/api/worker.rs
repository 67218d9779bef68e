//! The worker: redelivery after a crash builds a report exactly once, passing failures are
//! retried through the delay queues and then dead-lettered, unreadable jobs are dead-lettered at
//! once, and jobs that waited while no worker ran are all built when one starts.

use std::time::Duration;

use serde_json::json;
use sqlx::postgres::PgListener;
use uuid::Uuid;
use zayavki_common::amqp::topology;

use crate::{
    helpers::{
        PATIENCE, TestSystem, header_text, insert_applications, logged_events, next_message,
        outbox_events, spawn_system, spawn_without_reports, summary_job, wait_for_finished,
    },
    processes::{SlowProxy, spawn_binary},
};

fn report_id(job: &serde_json::Value) -> Uuid {
    job["reportId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the job names its report")
}

/// Waits until the log holds a `report.progress` of the report: its rows are streaming.
async fn wait_for_progress(system: &TestSystem, report_id: Uuid) {
    let mut listener = PgListener::connect_with(&system.reports_pool)
        .await
        .expect("listener");
    listener.listen("event_log").await.expect("listening");
    tokio::time::timeout(PATIENCE, async {
        while logged_events(&system.reports_pool, report_id, "report.progress").await == 0 {
            tokio::time::timeout(Duration::from_secs(1), listener.recv())
                .await
                .ok();
        }
    })
    .await
    .expect("the build reports progress");
}

async fn attempts(system: &TestSystem, report_id: Uuid) -> i32 {
    sqlx::query_scalar("SELECT attempts FROM reports WHERE id = $1")
        .bind(report_id)
        .fetch_one(&system.reports_pool)
        .await
        .expect("the report")
}

#[tokio::test]
async fn a_job_whose_worker_dies_mid_build_is_delivered_again_and_built_once() {
    let mut system = spawn_without_reports(|_| {}).await;
    insert_applications(&system.applications_pool, "anna", 4_000).await;
    // About 40 s for the whole export: the build is surely still streaming when it dies.
    let slow = SlowProxy::start(system.applications_address, 32 * 1024).await;
    let mut doomed = spawn_binary(&system, slow.address());
    let job = summary_job("olga", "operator", "CSV");
    let report_id = report_id(&job);

    system.publish_job(&job).await;
    wait_for_progress(&system, report_id).await;
    doomed.start_kill().expect("SIGKILL sent");
    doomed.wait().await.expect("the worker is dead");
    assert_eq!(system.status(report_id).await.as_deref(), Some("RUNNING"));

    system.start_report_service().await;
    system.wait_for_status(report_id, "COMPLETED").await;

    assert_eq!(
        attempts(&system, report_id).await,
        2,
        "the death counts as an attempt"
    );
    let pool = &system.reports_pool;
    assert_eq!(logged_events(pool, report_id, "report.completed").await, 1);
    assert_eq!(outbox_events(pool, report_id, "report.completed").await, 1);
    // business-process hears the completion, past the progress events no queue is bound to.
    let heard = next_message(&system.broker, "business-process.report-events").await;
    assert_eq!(heard.routing_key.as_str(), "report.completed");
    let body: serde_json::Value = serde_json::from_slice(&heard.data).expect("a JSON body");
    assert_eq!(body["reportId"], report_id.to_string());
    let rows: i64 = sqlx::query_scalar("SELECT row_count FROM reports WHERE id = $1")
        .bind(report_id)
        .fetch_one(pool)
        .await
        .expect("the report");
    assert_eq!(rows, 4_000);
    let stored: Vec<_> = std::fs::read_dir(system.storage_dir())
        .expect("the report directory")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(stored.len(), 1, "one file, no leftovers");
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_in_the_dead_letter_queue_after_the_configured_attempts() {
    // A port nothing listens on: application-service is away for the whole test.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let system = spawn_system(|settings| {
        settings.application_service_url = format!("http://{closed}");
        settings.max_attempts = 2;
    })
    .await;
    let job = summary_job("olga", "operator", "JSON");
    let report_id = report_id(&job);

    system.publish_job(&job).await;
    let dead = next_message(&system.broker, topology::REPORTS_JOBS_DEAD).await;
    system.wait_for_status(report_id, "FAILED").await;

    assert_eq!(header_text(&dead, "x-attempts").as_deref(), Some("2"));
    let reason = header_text(&dead, "x-failure-reason").expect("a reason");
    assert!(reason.contains("gave up after 2 attempts"), "{reason}");
    assert!(reason.contains("export failed"), "{reason}");
    let body: serde_json::Value = serde_json::from_slice(&dead.data).expect("the job as sent");
    assert_eq!(body["reportId"], report_id.to_string());
    assert_eq!(attempts(&system, report_id).await, 2);
    let pool = &system.reports_pool;
    assert_eq!(logged_events(pool, report_id, "report.failed").await, 1);
    assert_eq!(outbox_events(pool, report_id, "report.failed").await, 1);
    let logged_reason: String =
        sqlx::query_scalar("SELECT body->>'reason' FROM event_log WHERE type = 'report.failed'")
            .fetch_one(pool)
            .await
            .expect("the failure");
    assert_eq!(logged_reason, reason);
}

#[tokio::test]
async fn an_unreadable_job_is_dead_lettered_at_once_with_its_reason() {
    let system = spawn_system(|_| {}).await;
    let unreadable = json!({"reportId": Uuid::now_v7(), "kind": "PIE_CHART", "format": "CSV",
                            "owner": "anna", "ownerRole": "applicant"});

    system.publish_job(&unreadable).await;
    let dead = next_message(&system.broker, topology::REPORTS_JOBS_DEAD).await;

    let reason = header_text(&dead, "x-failure-reason").expect("a reason");
    assert!(
        reason.contains("\"PIE_CHART\" is not a report kind"),
        "{reason}"
    );
    assert_eq!(header_text(&dead, "x-attempts").as_deref(), Some("0"));
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
        .fetch_one(&system.reports_pool)
        .await
        .expect("reports readable");
    assert_eq!(known, 0);
}

#[tokio::test]
async fn jobs_published_while_no_worker_runs_are_all_built_once_when_one_starts() {
    let mut system = spawn_without_reports(|settings| settings.prefetch = 4).await;
    insert_applications(&system.applications_pool, "anna", 20).await;
    let formats = ["CSV", "JSON", "XLSX"];
    let jobs: Vec<serde_json::Value> = (0..100)
        .map(|index| summary_job("anna", "applicant", formats[index % formats.len()]))
        .collect();
    system.publish_jobs(&jobs).await;
    // The same job twice: a duplicate delivery is not built again.
    system.publish_job(&jobs[0]).await;

    system.start_report_service().await;
    wait_for_finished(&system.reports_pool, 100).await;

    let pool = &system.reports_pool;
    let (completed, attempts, events): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'COMPLETED'), sum(attempts)::bigint, \
         (SELECT count(*) FROM event_log WHERE type = 'report.completed') FROM reports",
    )
    .fetch_one(pool)
    .await
    .expect("reports readable");
    assert_eq!((completed, attempts, events), (100, 100, 100));
    let rows: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT row_count FROM reports")
        .fetch_all(pool)
        .await
        .expect("reports readable");
    assert_eq!(rows, [20]);
    system.stop_report_service().await;
}
