//! The report API and downloads: who sees which report, headers that keep a Cyrillic name,
//! signed links, paging.

use chrono::{TimeDelta, Utc};
use percent_encoding::percent_decode_str;
use reqwest::{StatusCode, header};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zayavki_identity::Role;

use crate::{
    fixtures::file_applications,
    helpers::{purchase_job, spawn_system, summary_job},
};

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok()),
        Some("application/problem+json")
    );
    response.json().await.expect("a problem document")
}

#[tokio::test]
async fn a_download_streams_the_file_with_its_name_length_and_etag() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;
    let report_id = system
        .build(&purchase_job("anna", filed.chairs, "CSV"))
        .await;

    let response = system
        .get_as(
            &format!("/reports/{report_id}/download"),
            "anna",
            &[Role::Applicant],
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("the file");
    let text = |name: header::HeaderName| {
        headers
            .get(&name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("{name} is sent"))
            .to_owned()
    };
    assert_eq!(text(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    assert_eq!(text(header::CONTENT_LENGTH), body.len().to_string());
    let sha256 = hex::encode(Sha256::digest(&body));
    assert_eq!(text(header::ETAG), format!("\"{sha256}\""));
    let disposition = text(header::CONTENT_DISPOSITION);
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    let encoded = disposition
        .split_once("filename*=UTF-8''")
        .expect("an RFC 8187 name")
        .1;
    assert_eq!(
        percent_decode_str(encoded).decode_utf8().expect("UTF-8"),
        "Отчёт о закупке «Стулья».csv"
    );

    let report: Value = system
        .get_as(&format!("/reports/{report_id}"), "anna", &[Role::Applicant])
        .await
        .json()
        .await
        .expect("the report");
    assert_eq!(report["status"], "COMPLETED");
    assert_eq!(report["size"], body.len());
    assert_eq!(report["sha256"], sha256);
    assert_eq!(report["attempts"], 1);

    let unchanged = system
        .http
        .get(system.url(&format!("/reports/{report_id}/download")))
        .bearer_auth(system.token("anna", &[Role::Applicant]))
        .header(header::IF_NONE_MATCH, format!("\"{sha256}\""))
        .send()
        .await
        .expect("answered");
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

    let metrics = system
        .http
        .get(system.url("/metrics"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("the exposition");
    assert!(
        metrics.contains(
            "zayavki_report_build_duration_seconds_count{kind=\"PURCHASE\",format=\"CSV\",outcome=\"completed\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("zayavki_report_jobs_total{outcome=\"completed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("zayavki_consumer_connected{queue=\"reports.jobs\"} 1"),
        "{metrics}"
    );
    let ready: Value = system
        .http
        .get(system.url("/readyz"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("readiness");
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn a_signed_link_downloads_without_a_token_until_it_expires_or_is_altered() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;
    let report_id = system
        .build(&purchase_job("anna", filed.chairs, "JSON"))
        .await;
    let report: Value = system
        .get_as(&format!("/reports/{report_id}"), "anna", &[Role::Applicant])
        .await
        .json()
        .await
        .expect("the report");
    let link = report["downloadUrl"]
        .as_str()
        .expect("a download link")
        .to_owned();
    assert!(
        link.starts_with(&format!("/reports/{report_id}/download?exp=")),
        "{link}"
    );

    let signed = system
        .http
        .get(system.url(&link))
        .send()
        .await
        .expect("answered");
    assert_eq!(signed.status(), StatusCode::OK);
    let body = signed.bytes().await.expect("the file");
    assert_eq!(
        body,
        system.download(report_id, "anna", &[Role::Applicant]).await
    );

    let tampered = link.replace("sig=", "sig=00");
    let refused = problem(
        system
            .http
            .get(system.url(&tampered))
            .send()
            .await
            .expect("answered"),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["type"], "urn:zayavki:problem:permission-denied");
    let other_report = link.replace(&report_id.to_string(), &Uuid::now_v7().to_string());
    problem(
        system
            .http
            .get(system.url(&other_report))
            .send()
            .await
            .expect("answered"),
        StatusCode::FORBIDDEN,
    )
    .await;

    let expired = report_service::download::download_url(
        &system.settings.download_secret,
        report_id,
        Utc::now() - TimeDelta::minutes(16),
    );
    let refused = problem(
        system
            .http
            .get(system.url(&expired))
            .send()
            .await
            .expect("answered"),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("expired")),
        "{refused}"
    );

    let anonymous = system
        .http
        .get(system.url(&format!("/reports/{report_id}/download")))
        .send()
        .await
        .expect("answered");
    assert!(anonymous.headers().contains_key(header::WWW_AUTHENTICATE));
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn another_users_report_is_missing_to_them_and_visible_to_operators() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;
    let report_id = system
        .build(&purchase_job("anna", filed.chairs, "CSV"))
        .await;

    for path in [
        format!("/reports/{report_id}"),
        format!("/reports/{report_id}/download"),
    ] {
        let refused = problem(
            system.get_as(&path, "boris", &[Role::Applicant]).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(refused["type"], "urn:zayavki:problem:not-found");
        let seen = system.get_as(&path, "olga", &[Role::Operator]).await;
        assert_eq!(seen.status(), StatusCode::OK, "{path}");
    }
    let unknown = Uuid::now_v7();
    problem(
        system
            .get_as(&format!("/reports/{unknown}"), "anna", &[Role::Applicant])
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let wrong = problem(
        system
            .get_as("/reports/not-a-uuid", "anna", &[Role::Applicant])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(wrong["errors"][0]["field"], "id");
    problem(
        system
            .http
            .get(system.url("/reports"))
            .send()
            .await
            .expect("answered"),
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn the_listing_shows_the_callers_reports_newest_first_in_pages() {
    let system = spawn_system(|_| {}).await;
    file_applications(&system).await;
    let mut built = Vec::new();
    for format in ["CSV", "JSON", "XLSX"] {
        built.push(
            system
                .build(&summary_job("anna", "applicant", format))
                .await,
        );
    }
    let boris = system
        .build(&summary_job("boris", "applicant", "CSV"))
        .await;

    let mut seen = Vec::new();
    let mut path = "/reports?pageSize=2".to_owned();
    for _ in 0..5 {
        let page: Value = system
            .get_as(&path, "anna", &[Role::Applicant])
            .await
            .json()
            .await
            .expect("a page");
        for report in page["reports"].as_array().expect("reports") {
            assert_eq!(report["owner"], "anna");
            seen.push(
                report["id"]
                    .as_str()
                    .expect("an id")
                    .parse::<Uuid>()
                    .expect("a UUID"),
            );
        }
        match page["nextPageToken"].as_str() {
            Some(token) => path = format!("/reports?pageSize=2&pageToken={token}"),
            None => break,
        }
    }
    built.reverse();
    assert_eq!(seen, built, "anna's three, newest first");

    let everyone: Value = system
        .get_as("/reports", "olga", &[Role::Operator])
        .await
        .json()
        .await
        .expect("a page");
    assert_eq!(everyone["reports"][0]["id"], boris.to_string());
    assert_eq!(everyone["reports"].as_array().map(Vec::len), Some(4));

    let wrong = problem(
        system
            .get_as("/reports?pageToken=garbage", "anna", &[Role::Applicant])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(wrong["errors"][0]["field"], "pageToken");
    let wrong = problem(
        system
            .get_as("/reports?pageSize=1000", "anna", &[Role::Applicant])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(wrong["errors"][0]["field"], "pageSize");
}
