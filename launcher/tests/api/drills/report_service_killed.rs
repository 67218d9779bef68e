//! Drill 2: report-service is SIGKILLed in the middle of a large report; the supervisor starts it
//! again and the report is built once: one COMPLETED row, one stored file, one report.completed,
//! the killed build counted among its attempts.

use std::time::Duration;

use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use rustix::process::Signal;
use serde_json::json;
use sqlx::PgPool;
use zayavki_common::amqp::{self, AmqpSettings};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    BatchCreateApplicationsRequest, application_service_client::ApplicationServiceClient,
};

use super::{
    Tally, count, database, drill_settings, reports_wait::stored_files, small_application, token,
};
use crate::helpers::{
    PATIENCE, StartedSystem, authorized, channel, eventually, send, start_system_with,
};

const BATCHES: usize = 10;
const BATCH_SIZE: usize = 1_000;
/// How often the report's status is read while waiting for its build to start.
const WATCH_INTERVAL: Duration = Duration::from_millis(10);

#[tokio::test]
async fn a_report_whose_builder_is_killed_midway_is_built_once_after_the_restart() {
    // Without business-process: the seeded applications start no processes and no purchase
    // reports; the one job is published as business-process publishes it.
    let system = start_system_with(&drill_settings(&[(
        "ZAYAVKI_SERVICES",
        "application,reports,sink",
    )]))
    .await;
    seed(&system).await;
    let pool = database(&system, "REPORT_DATABASE_URL").await;
    let report_id = uuid::Uuid::new_v4();
    publish_summary_job(system.setting("AMQP_URL"), report_id).await;

    let killed = system.service_pid("report-service");
    let running = watch_until_running(&pool, report_id).await;
    assert_eq!(
        running.as_deref(),
        Some("RUNNING"),
        "the build was not observed running (increase the seeded rows)\n{}",
        system.transcript()
    );
    send(killed, Signal::KILL);
    system
        .wait_for_state("report-service started again", |state| {
            state
                .service("report-service")
                .is_some_and(|service| service.starts == 2 && service.ready)
        })
        .await;

    let id = report_id.to_string();
    let completed = eventually("the report built after the restart", || async {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM reports WHERE id = $1")
            .bind(report_id)
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten();
        status.filter(|status| status == "COMPLETED")
    })
    .await;
    assert!(completed.is_some(), "{}", system.transcript());
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM reports WHERE id = $1")
        .bind(report_id)
        .fetch_one(&pool)
        .await
        .expect("attempts");
    let completions = count(
        &pool,
        &format!(
            "SELECT count(*) FROM event_log WHERE type = 'report.completed' \
             AND body->>'reportId' = '{id}'"
        ),
    )
    .await;
    let rows = count(&pool, "SELECT count(*) FROM reports").await;
    let files = stored_files(system.setting("REPORT_STORAGE"));
    println!("drill 2: {attempts} attempts, {completions} report.completed, {files} stored files");

    Tally {
        drill: "drill 2 (report-service killed mid-report)",
        sent: 1,
        acknowledged: 1,
        present: usize::try_from(rows).unwrap_or_default(),
        duplicated: usize::try_from(completions - 1).unwrap_or_default() + files.saturating_sub(1),
    }
    .check();
    assert_eq!(completions, 1);
    assert_eq!(files, 1, "one stored file");
    assert!(attempts >= 2, "the killed build counts: {attempts}");
}

/// Files `BATCHES` × `BATCH_SIZE` applications.
async fn seed(system: &StartedSystem) {
    let address = system.state().addresses.application.expect("runs").grpc;
    let mut applications = ApplicationServiceClient::new(channel(address).await)
        .max_decoding_message_size(64 * 1024 * 1024);
    let alice = token("alice", Role::Applicant);
    for batch in 0..BATCHES {
        let request = BatchCreateApplicationsRequest {
            request_id: format!("seed-{batch}"),
            applications: (0..BATCH_SIZE)
                .map(|index| small_application(format!("Канцелярия, партия {batch}, № {index}")))
                .collect(),
        };
        applications
            .batch_create_applications(authorized(request, &alice))
            .await
            .unwrap_or_else(|status| panic!("batch {batch} filed: {status:?}"));
    }
}

/// Publishes a summary of every application, as operator `olga` would request it, with the
/// properties business-process gives a job; waits for the broker's confirm.
async fn publish_summary_job(amqp_url: &str, report_id: uuid::Uuid) {
    let connection = amqp::connect(&AmqpSettings::new(amqp_url.to_owned()), "fault drill")
        .await
        .expect("the broker is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let job = json!({
        "reportId": report_id,
        "kind": "APPLICATIONS_SUMMARY",
        "format": "XLSX",
        "owner": "olga",
        "ownerRole": "operator",
        "requestedAt": chrono::Utc::now().to_rfc3339(),
    });
    let confirm = channel
        .basic_publish(
            ShortString::from("reports"),
            ShortString::from("report.job"),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &serde_json::to_vec(&job).expect("JSON"),
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_message_id(ShortString::from(report_id.to_string()))
                .with_type(ShortString::from("report.job"))
                .with_content_type(ShortString::from("application/json"))
                .with_timestamp(unix_seconds())
                .with_app_id(ShortString::from("fault-drill")),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    assert!(confirm.is_ack(), "the broker took the job");
    connection.close(0, "published".into()).await.ok();
}

/// Reads the report's status every [`WATCH_INTERVAL`] until its build has started (or ended).
async fn watch_until_running(pool: &PgPool, report_id: uuid::Uuid) -> Option<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let attempts = PATIENCE.as_millis() / WATCH_INTERVAL.as_millis();
    for _ in 0..attempts {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM reports WHERE id = $1")
            .bind(report_id)
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
        if let Some(status) = status.filter(|status| status != "QUEUED") {
            return Some(status);
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
    None
}

fn unix_seconds() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}
