//! `/applications…`: file, batch-file, cancel, read, list, search and count per day. Each
//! handler translates JSON to domain input, calls the one use case, and translates the result
//! back.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header::LOCATION},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use zayavki_common::problem::Problem;
use zayavki_identity::ThrottleKey;

use super::{
    HttpState,
    dto::{
        self, ApplicationBody, ApplicationListBody, BatchCreateBody, BatchCreatedBody, CancelBody,
        DayStatsBody, NewApplicationBody, SearchResultsBody,
    },
    extract::{ApplicationId, RestCaller, idempotency_key},
    json::{JsonBody, OptionalJsonBody},
    problem_mapping::batch_problem,
    query::{ListParams, SearchParams, StatsParams},
};
use crate::domain::{ApplicationError, NewApplicationInput};

const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The operations of the document under `/applications`, as (method, path) pairs.
pub const OPERATIONS: [(&str, &str); 7] = [
    ("POST", "/applications"),
    ("GET", "/applications"),
    ("POST", "/applications/batch"),
    ("GET", "/applications/search"),
    ("GET", "/applications/stats"),
    ("GET", "/applications/{id}"),
    ("POST", "/applications/{id}/cancel"),
];

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/applications", post(create).get(list))
        .route("/applications/batch", post(batch_create))
        .route("/applications/search", get(search))
        // A literal segment: matched before `/applications/{id}` whatever the order here.
        .route("/applications/stats", get(stats))
        .route("/applications/{id}", get(read))
        .route("/applications/{id}/cancel", post(cancel))
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject))]
async fn create(
    State(state): State<HttpState>,
    caller: RestCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewApplicationBody>,
) -> Result<Response, Problem> {
    let request_id = idempotency_key(&headers)?;
    let created = state
        .applications
        .create(&caller.caller, request_id, body.into())
        .await?;
    let location = format!("/applications/{}", created.value.id);
    let mut response = (
        StatusCode::CREATED,
        Json(ApplicationBody::from(created.value)),
    )
        .into_response();
    let response_headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response_headers.insert(LOCATION, location);
    }
    if created.replayed {
        response_headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject))]
async fn batch_create(
    State(state): State<HttpState>,
    caller: RestCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BatchCreateBody>,
) -> Result<Response, Problem> {
    // The throttle layer charged one unit for the request; a batch pays for every further item.
    let extra_items = u32::try_from(body.applications.len().saturating_sub(1)).unwrap_or(u32::MAX);
    state
        .throttle
        .check(&ThrottleKey::for_identity(&caller.identity), extra_items)
        .map_err(|throttled| throttled.to_problem())?;
    let request_id = idempotency_key(&headers)?;
    let inputs: Vec<NewApplicationInput> = body
        .applications
        .into_iter()
        .map(|dto::Object(application)| application.into())
        .collect();
    let created = state
        .applications
        .batch_create(&caller.caller, request_id, inputs)
        .await
        .map_err(batch_problem)?;
    let body = BatchCreatedBody {
        items: created
            .value
            .into_iter()
            .map(ApplicationBody::from)
            .collect(),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if created.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject, id = %id.0))]
async fn cancel(
    State(state): State<HttpState>,
    caller: RestCaller,
    id: ApplicationId,
    OptionalJsonBody(body): OptionalJsonBody<CancelBody>,
) -> Result<Json<ApplicationBody>, ApplicationError> {
    let body = body.unwrap_or_default();
    let cancelled = state
        .applications
        .cancel(&caller.caller, &id.0, body.reason.as_deref())
        .await?;
    Ok(Json(cancelled.into()))
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject, id = %id.0))]
async fn read(
    State(state): State<HttpState>,
    caller: RestCaller,
    id: ApplicationId,
) -> Result<Json<ApplicationBody>, ApplicationError> {
    let application = state.applications.get(&caller.caller, &id.0).await?;
    Ok(Json(application.into()))
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject))]
async fn list(
    State(state): State<HttpState>,
    caller: RestCaller,
    ListParams(query): ListParams,
) -> Result<Json<ApplicationListBody>, ApplicationError> {
    let page = state.applications.list(&caller.caller, query).await?;
    Ok(Json(page.into()))
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject))]
async fn search(
    State(state): State<HttpState>,
    caller: RestCaller,
    SearchParams(query): SearchParams,
) -> Result<Json<SearchResultsBody>, ApplicationError> {
    let page = state.applications.search(&caller.caller, query).await?;
    Ok(Json(page.into()))
}

#[tracing::instrument(skip_all, fields(caller = %caller.caller.subject))]
async fn stats(
    State(state): State<HttpState>,
    caller: RestCaller,
    StatsParams(query): StatsParams,
) -> Result<Json<Vec<DayStatsBody>>, ApplicationError> {
    let stats = state.applications.day_stats(&caller.caller, query).await?;
    Ok(Json(stats.into_iter().map(DayStatsBody::from).collect()))
}
