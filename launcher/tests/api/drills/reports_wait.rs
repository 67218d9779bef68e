//! Drill 1: report-service is down while 100 summary reports are requested; the jobs wait in
//! `reports.jobs` and, once it starts, each is built exactly once.

use zayavki_identity::Role;
use zayavki_proto::process::v1::{
    ReportFormat, ReportKind, RequestReportRequest,
    business_process_service_client::BusinessProcessServiceClient,
};

use super::{Tally, count, database, drill_settings, token};
use crate::{
    companion::Companion,
    helpers::{authorized, channel, eventually, start_system_with},
    rabbitmq::ready_messages,
};

const REPORTS: usize = 100;

#[tokio::test]
async fn report_jobs_published_while_report_service_is_down_are_built_once_each_when_it_starts() {
    let system = start_system_with(&drill_settings(&[(
        "ZAYAVKI_SERVICES",
        "application,process,sink",
    )]))
    .await;
    let addresses = system.state().addresses;
    let olga = token("olga", Role::Operator);
    let processes =
        BusinessProcessServiceClient::new(channel(addresses.process.expect("runs").grpc).await);

    let mut requested = Vec::with_capacity(REPORTS);
    for _ in 0..REPORTS {
        let answer = processes
            .clone()
            .request_report(authorized(
                RequestReportRequest {
                    kind: ReportKind::ApplicationsSummary as i32,
                    applied_from: String::new(),
                    applied_to: String::new(),
                    statuses: Vec::new(),
                    format: ReportFormat::Csv as i32,
                },
                &olga,
            ))
            .await;
        if let Ok(answer) = answer {
            requested.push(answer.into_inner().report_id);
        }
    }
    let waiting = eventually("every job waiting in reports.jobs", || async {
        let queues = system.broker().management_get("queues").await.ok()?;
        ready_messages(&queues, "reports.jobs").filter(|ready| *ready == REPORTS as u64)
    })
    .await;
    assert_eq!(waiting, Some(REPORTS as u64), "{}", system.transcript());

    let application = addresses.application.expect("runs").grpc;
    let reports = Companion::start(
        &system,
        &[
            ("ZAYAVKI_SERVICES", "reports"),
            ("APPLICATION_SERVICE_URL", &format!("http://{application}")),
        ],
    )
    .await;
    let started: Vec<String> = reports
        .state()
        .services
        .into_iter()
        .map(|service| service.name)
        .collect();
    assert_eq!(started, ["report-service"]);
    let pool = database(&system, "REPORT_DATABASE_URL").await;
    let completed = eventually("every report built", || async {
        let done = count(
            &pool,
            "SELECT count(*) FROM reports WHERE status = 'COMPLETED'",
        )
        .await;
        (done >= REPORTS as i64).then_some(done)
    })
    .await;
    let rows = count(&pool, "SELECT count(*) FROM reports").await;
    let built_twice = count(
        &pool,
        "SELECT count(*) FROM (SELECT body->>'reportId' FROM event_log \
         WHERE type = 'report.completed' GROUP BY 1 HAVING count(*) > 1) AS twice",
    )
    .await;
    let attempts = count(&pool, "SELECT coalesce(sum(attempts), 0) FROM reports").await;
    let files = stored_files(system.setting("REPORT_STORAGE"));
    println!("drill 1: {attempts} build attempts, {files} stored files");
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM reports WHERE status = 'COMPLETED'")
            .fetch_all(&pool)
            .await
            .expect("report ids");
    let mut expected = requested.clone();
    expected.sort();
    let mut built = ids;
    built.sort();

    Tally {
        drill: "drill 1 (report-service down while 100 jobs are published)",
        sent: REPORTS,
        acknowledged: requested.len(),
        present: usize::try_from(completed.unwrap_or_default()).unwrap_or_default(),
        duplicated: usize::try_from(rows - REPORTS as i64 + built_twice).unwrap_or_default()
            + files.saturating_sub(REPORTS),
    }
    .check();
    assert_eq!(built, expected, "the reports built are the ones requested");
    assert_eq!(files, REPORTS, "one stored file per report");
    reports.stop().await;
}

/// Files under the report storage directory, at any depth.
pub fn stored_files(root: &str) -> usize {
    let mut pending = vec![std::path::PathBuf::from(root)];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(_) => files += 1,
                Err(_) => {}
            }
        }
    }
    files
}
