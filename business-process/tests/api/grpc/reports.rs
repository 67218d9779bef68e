//! On-demand reports: the request and its `report.job` are written together, and the answer
//! is the report id.

use serde_json::{Value, json};
use tonic::Code;
use uuid::Uuid;
use zayavki_proto::{applications::v1::ApplicationStatus, process::v1 as pb};

use super::{ApiServer, refused_with, spawn_api};

/// The outbox rows: message id, exchange, routing key and body.
async fn outbox(api: &ApiServer) -> Vec<(Uuid, String, String, Value)> {
    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT message_id, exchange, routing_key, body::text FROM outbox ORDER BY id",
    )
    .fetch_all(&api.pool)
    .await
    .expect("outbox readable");
    rows.into_iter()
        .map(|(id, exchange, key, body)| {
            (
                id,
                exchange,
                key,
                serde_json::from_str(&body).expect("JSON body"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_requested_report_writes_one_job_with_its_filters_to_the_outbox() {
    let api = spawn_api().await;

    let answer = api
        .operator("olga")
        .request_report(pb::RequestReportRequest {
            kind: pb::ReportKind::ApplicationsSummary as i32,
            applied_from: "2025-03-01".to_owned(),
            applied_to: " 2025-03-31T23:59:59+03:00".to_owned(),
            statuses: vec![
                ApplicationStatus::Completed as i32,
                ApplicationStatus::New as i32,
                ApplicationStatus::Completed as i32,
            ],
            format: pb::ReportFormat::Json as i32,
        })
        .await
        .expect("queued")
        .into_inner();

    let report_id: Uuid = answer.report_id.parse().expect("a UUID");
    assert_eq!(report_id.get_version_num(), 7);
    let rows = outbox(&api).await;
    assert_eq!(rows.len(), 1);
    let (message_id, exchange, routing_key, mut job) = rows.into_iter().next().expect("one row");
    assert_eq!(message_id, report_id);
    assert_eq!(
        (exchange.as_str(), routing_key.as_str()),
        ("reports", "report.job")
    );
    let requested_at = job
        .as_object_mut()
        .and_then(|job| job.remove("requestedAt"))
        .expect("requestedAt");
    assert!(
        chrono::DateTime::parse_from_rfc3339(requested_at.as_str().unwrap_or_default()).is_ok(),
        "{requested_at}"
    );
    assert_eq!(
        job,
        json!({
            "reportId": report_id,
            "kind": "APPLICATIONS_SUMMARY",
            "format": "JSON",
            "owner": "olga",
            "ownerRole": "operator",
            "appliedFrom": "2025-03-01",
            "appliedTo": "2025-03-31T23:59:59+03:00",
            "statuses": ["NEW", "COMPLETED"],
        })
    );
    let request: (String, String, String, String, String) = sqlx::query_as(
        "SELECT kind, format, owner, owner_role, status FROM report_requests WHERE report_id = $1",
    )
    .bind(report_id)
    .fetch_one(&api.pool)
    .await
    .expect("the request is recorded");
    assert_eq!(
        request,
        (
            "APPLICATIONS_SUMMARY".to_owned(),
            "JSON".to_owned(),
            "olga".to_owned(),
            "operator".to_owned(),
            "REQUESTED".to_owned()
        )
    );
}

#[tokio::test]
async fn an_applicant_asks_with_defaults_and_absent_filters_are_left_out_of_the_job() {
    let api = spawn_api().await;

    let answer = api
        .applicant("alice")
        .request_report(pb::RequestReportRequest::default())
        .await
        .expect("queued")
        .into_inner();

    let rows = outbox(&api).await;
    assert_eq!(rows.len(), 1);
    let job = &rows[0].3;
    assert_eq!(job["reportId"], answer.report_id);
    assert_eq!(job["kind"], "APPLICATIONS_SUMMARY");
    assert_eq!(job["format"], "CSV");
    assert_eq!(job["owner"], "alice");
    assert_eq!(job["ownerRole"], "applicant");
    for absent in ["appliedFrom", "appliedTo", "statuses", "applicationId"] {
        assert!(job.get(absent).is_none(), "{absent} in {job}");
    }
    let service = api
        .service()
        .request_report(pb::RequestReportRequest::default())
        .await
        .expect("queued");
    assert!(!service.into_inner().report_id.is_empty());
    assert_eq!(outbox(&api).await[1].3["ownerRole"], "service");
}

#[tokio::test]
async fn a_wrong_window_status_or_format_is_refused_and_nothing_is_queued() {
    let api = spawn_api().await;
    let mut operator = api.operator("olga");
    let request = |from: &str, to: &str| pb::RequestReportRequest {
        applied_from: from.to_owned(),
        applied_to: to.to_owned(),
        ..Default::default()
    };

    let reversed = operator
        .request_report(request("2025-03-02", "2025-03-01"))
        .await
        .expect_err("to before from");
    assert_eq!(
        refused_with(&reversed, Code::InvalidArgument),
        ["applied_to"]
    );
    let malformed = operator
        .request_report(request("yesterday", "2025-02-30"))
        .await
        .expect_err("not dates");
    assert_eq!(
        refused_with(&malformed, Code::InvalidArgument),
        ["applied_from", "applied_to"]
    );
    let unspecified_status = operator
        .request_report(pb::RequestReportRequest {
            statuses: vec![
                ApplicationStatus::New as i32,
                ApplicationStatus::Unspecified as i32,
            ],
            ..Default::default()
        })
        .await
        .expect_err("UNSPECIFIED is no status");
    assert_eq!(
        refused_with(&unspecified_status, Code::InvalidArgument),
        ["statuses[1]"]
    );
    let unknown_format = operator
        .request_report(pb::RequestReportRequest {
            format: 42,
            ..Default::default()
        })
        .await
        .expect_err("no such format");
    assert_eq!(
        refused_with(&unknown_format, Code::InvalidArgument),
        ["format"]
    );

    assert!(outbox(&api).await.is_empty());
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM report_requests")
        .fetch_one(&api.pool)
        .await
        .expect("counted");
    assert_eq!(recorded, 0);
}
