//! `GET /reports` (the caller's reports, newest first, in pages) and `GET /reports/{id}`.
//! Applicants see their own reports; operators and services see everyone's. Someone else's
//! report is answered as missing.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use zayavki_common::{
    page_token::{self, Cursor, FingerprintBuilder},
    problem::Problem,
};
use zayavki_identity::{Authenticated, Identity, Role};

use super::errors::{invalid, report_not_found, storage_failure};
use crate::{
    download::download_url,
    state::AppState,
    storage::reports::{self, ListPosition, StoredReport},
};

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list))
        .route("/reports/{id}", get(read))
}

/// Whose reports `identity` sees: `None` for everyone's.
pub fn visible_owner(identity: &Identity) -> Option<&str> {
    if identity.has_any_role(&[Role::Operator, Role::Service]) {
        None
    } else {
        Some(identity.subject.as_str())
    }
}

/// Whether `identity` may see `report`.
pub fn may_see(identity: &Identity, report: &StoredReport) -> bool {
    visible_owner(identity).is_none_or(|owner| owner == report.owner)
}

/// A report as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    pub id: Uuid,
    pub kind: String,
    pub format: String,
    pub status: String,
    pub owner: String,
    pub parameters: Value,
    pub attempts: i32,
    pub percent: i16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Relative, signed, valid 15 minutes; only when COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
}

impl ReportView {
    fn new(report: StoredReport, state: &AppState) -> Self {
        let download_url = (report.status == "COMPLETED")
            .then(|| download_url(&state.download_secret, report.id, Utc::now()));
        Self {
            id: report.id,
            kind: report.kind,
            format: report.format,
            status: report.status,
            owner: report.owner,
            parameters: report.parameters,
            attempts: report.attempts,
            percent: report.percent,
            error: report.error,
            requested_at: report.requested_at,
            created_at: report.created_at,
            started_at: report.started_at,
            finished_at: report.finished_at,
            rows: report.row_count,
            size: report.size,
            sha256: report.sha256,
            file_name: report.file_name,
            download_url,
        }
    }
}

/// Parses the `{id}` path parameter.
pub fn report_id(raw: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(raw).map_err(|_| invalid("id", format!("{raw:?} is not a UUID")))
}

async fn read(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ReportView>, Problem> {
    let report_id = report_id(&id)?;
    let report = reports::find(&state.pool, report_id)
        .await
        .map_err(|error| storage_failure(error.into()))?
        .filter(|report| may_see(&identity, report))
        .ok_or_else(|| report_not_found(&id))?;
    Ok(Json(ReportView::new(report, &state)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListQuery {
    page_size: Option<String>,
    page_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportPage {
    reports: Vec<ReportView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

struct PageCursor(ListPosition);

impl Cursor for PageCursor {
    const ENCODED_LEN: usize = 8 + 16;

    fn encode_into(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.0.created_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.0.id.as_bytes());
    }

    fn decode_from(bytes: &[u8]) -> Option<Self> {
        let (micros, id) = bytes.split_first_chunk::<8>()?;
        Some(Self(ListPosition {
            created_at: DateTime::from_timestamp_micros(i64::from_be_bytes(*micros))?,
            id: Uuid::from_slice(id).ok()?,
        }))
    }
}

async fn list(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ReportPage>, Problem> {
    let Query(query) = query.map_err(|rejection| invalid("query", rejection.body_text()))?;
    let page_size = match query.page_size.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
            .ok_or_else(|| {
                invalid(
                    "pageSize",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            })?,
    };
    let owner = visible_owner(&identity);
    let fingerprint = FingerprintBuilder::new().optional_text(owner).finish();
    let after = match query.page_token.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(token) => Some(
            page_token::decode::<PageCursor>(token, fingerprint)
                .map_err(|error| invalid("pageToken", format!("pageToken {error}")))?
                .0,
        ),
    };
    let mut found = reports::list(&state.pool, owner, after, page_size + 1)
        .await
        .map_err(|error| storage_failure(error.into()))?;
    let next_page_token = if found.len() as i64 > page_size {
        found.truncate(page_size as usize);
        found.last().map(|last| {
            page_token::encode(
                &PageCursor(ListPosition {
                    created_at: last.created_at,
                    id: last.id,
                }),
                fingerprint,
            )
        })
    } else {
        None
    };
    Ok(Json(ReportPage {
        reports: found
            .into_iter()
            .map(|report| ReportView::new(report, &state))
            .collect(),
        next_page_token,
    }))
}
