//! `GET /reports/{id}/download`: the file, streamed from the store. It takes either a bearer
//! token (the owner, or an operator) or the signed `exp`/`sig` of a download URL, so a link
//! pushed to a browser works without one. `ETag` is the file's SHA-256; `If-None-Match` with it
//! answers 304.

use axum::{
    Router,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::Utc;
use futures::TryStreamExt;
use serde::Deserialize;
use zayavki_common::{ErrorCode, problem::Problem};
use zayavki_identity::{AuthError, Authenticated};

use super::{
    errors::{invalid, report_not_found, storage_failure},
    reports::{may_see, report_id},
};
use crate::{
    domain::ReportFormat,
    download::{SignatureError, content_disposition, verify},
    state::AppState,
    storage::reports,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/reports/{id}/download", get(download))
}

#[derive(Debug, Deserialize)]
struct SignedQuery {
    exp: Option<String>,
    sig: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    caller: Option<Authenticated>,
    Path(id): Path<String>,
    query: Result<Query<SignedQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let report_id = report_id(&id)?;
    let Query(query) = query.map_err(|rejection| invalid("query", rejection.body_text()))?;
    let report = reports::find(&state.pool, report_id)
        .await
        .map_err(|error| storage_failure(error.into()))?;
    match (&caller, &query.exp, &query.sig) {
        (Some(Authenticated(identity)), _, _) => {
            if !report
                .as_ref()
                .is_some_and(|report| may_see(identity, report))
            {
                return Err(report_not_found(&id));
            }
        }
        (None, Some(expires), Some(signature)) => {
            let expires: i64 = expires
                .trim()
                .parse()
                .map_err(|_| invalid("exp", "must be a Unix time in seconds"))?;
            verify(
                &state.download_secret,
                report_id,
                expires,
                signature.trim(),
                Utc::now(),
            )
            .map_err(refused_link)?;
        }
        (None, None, None) => return Err(AuthError::Missing.to_problem()),
        (None, _, _) => {
            return Err(invalid(
                if query.exp.is_none() { "exp" } else { "sig" },
                "a signed download link carries both exp and sig",
            ));
        }
    }
    let report = report.ok_or_else(|| report_not_found(&id))?;
    let (Some(object_key), Some(file_name), Some(sha256)) =
        (&report.object_key, &report.file_name, &report.sha256)
    else {
        return Err(Problem::new(
            ErrorCode::FailedPrecondition,
            format!(
                "Report {id} is {}; it can be downloaded once it is COMPLETED.",
                report.status
            ),
        ));
    };
    let etag = format!("\"{sha256}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let content_type = report
        .format
        .parse::<ReportFormat>()
        .map(ReportFormat::content_type)
        .unwrap_or("application/octet-stream");
    let file = state
        .content
        .download(object_key)
        .await
        .map_err(store_failure)?;
    let mut response = Body::from_stream(file.body.map_err(std::io::Error::other)).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    response_headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|error| storage_failure(error.into()))?,
    );
    response_headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&content_disposition::attachment(file_name))
            .map_err(|error| storage_failure(error.into()))?,
    );
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=0"),
    );
    Ok(response)
}

fn refused_link(error: SignatureError) -> Problem {
    Problem::new(ErrorCode::PermissionDenied, error.to_string())
}

/// The file store failing: 503 while it does not answer; a file missing under a COMPLETED
/// report is a fault of ours, logged and answered 500.
fn store_failure(error: anyhow::Error) -> Problem {
    let missing = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<object_store::Error>(),
            Some(object_store::Error::NotFound { .. })
        )
    });
    if missing {
        storage_failure(error)
    } else {
        tracing::warn!(error = %format!("{error:#}"), "report file store unreachable");
        Problem::new(
            ErrorCode::Unavailable,
            "The report file store is not answering; try again shortly.",
        )
    }
}
