//! The events application-service publishes (ARCHITECTURE.md, `asyncapi/asyncapi.yaml`): one
//! per change, written to the outbox in the transaction that makes the change, carrying the trace
//! of the request that made it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use zayavki_common::{
    amqp::{OutgoingMessage, topology::APPLICATIONS_EVENTS},
    telemetry::current_traceparent,
};

use crate::domain::{Application, ApplicationStatus};

pub const CREATED: &str = "application.created";
pub const CANCELLED: &str = "application.cancelled";
pub const STATUS_CHANGED: &str = "application.status_changed";

/// The body of every application event, camelCase JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationEvent<'a> {
    event_id: Uuid,
    #[serde(rename = "type")]
    kind: &'static str,
    occurred_at: DateTime<Utc>,
    application_id: Uuid,
    applicant: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_status: Option<&'static str>,
    version: i64,
    total_amount: String,
    title: &'a str,
}

/// `application.created` for a newly filed application, in the trace `traceparent` names (the
/// writing request's: every event of one batch is in it).
pub fn created(application: &Application, traceparent: &str) -> anyhow::Result<OutgoingMessage> {
    message(
        CREATED,
        application,
        None,
        application.applied_at,
        traceparent.to_owned(),
    )
}

/// `application.cancelled` for a cancellation, `application.status_changed` for any other move.
pub fn status_changed(
    before: &Application,
    after: &Application,
) -> anyhow::Result<OutgoingMessage> {
    let kind = if after.status == ApplicationStatus::Cancelled {
        CANCELLED
    } else {
        STATUS_CHANGED
    };
    message(
        kind,
        after,
        Some(before.status),
        after.updated_at,
        current_traceparent(),
    )
}

fn message(
    kind: &'static str,
    application: &Application,
    previous_status: Option<ApplicationStatus>,
    occurred_at: DateTime<Utc>,
    traceparent: String,
) -> anyhow::Result<OutgoingMessage> {
    let event_id = Uuid::now_v7();
    let body = ApplicationEvent {
        event_id,
        kind,
        occurred_at,
        application_id: application.id,
        applicant: &application.applicant,
        status: application.status.as_str(),
        previous_status: previous_status.map(ApplicationStatus::as_str),
        version: application.version,
        total_amount: application.total_amount.to_string(),
        title: &application.title,
    };
    Ok(OutgoingMessage {
        message_id: event_id,
        exchange: APPLICATIONS_EVENTS.to_owned(),
        routing_key: kind.to_owned(),
        body: serde_json::to_string(&body)?,
        traceparent: Some(traceparent),
        occurred_at,
    })
}
