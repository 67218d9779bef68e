//! Report events (`report.progress`, `report.completed`, `report.failed`): each is appended to
//! the event log (for the WebSocket) and written to the outbox (for `reports.events`) on the
//! transaction that changes the report, so browsers and other services hear of exactly the
//! changes that were committed.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgConnection;
use uuid::Uuid;
use zayavki_common::{
    amqp::{OutgoingMessage, topology},
    outbox,
};

use crate::{
    domain::ReportFormat,
    event_log::{self, LogEvent},
};

pub const PROGRESS: &str = "report.progress";
pub const COMPLETED: &str = "report.completed";
pub const FAILED: &str = "report.failed";

/// One event about one report.
#[derive(Clone, Debug)]
pub struct ReportEvent {
    pub kind: &'static str,
    pub report_id: Uuid,
    pub owner: String,
    pub format: ReportFormat,
    pub percent: Option<u8>,
    pub size: Option<u64>,
    pub reason: Option<String>,
}

impl ReportEvent {
    /// The fields besides id, type, owner and time, as both the log and the message carry them.
    fn fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("reportId".to_owned(), json!(self.report_id));
        fields.insert("format".to_owned(), json!(self.format.as_str()));
        if let Some(percent) = self.percent {
            fields.insert("percent".to_owned(), json!(percent));
        }
        if let Some(size) = self.size {
            fields.insert("size".to_owned(), json!(size));
        }
        if let Some(reason) = &self.reason {
            fields.insert("reason".to_owned(), json!(reason));
        }
        fields
    }

    /// The `reports.events` message body (ARCHITECTURE.md): `{eventId, type, reportId, owner,
    /// format?, percent?, size?, reason?, occurredAt}`.
    fn message_body(&self, event_id: Uuid, occurred_at: DateTime<Utc>) -> Value {
        let mut body = Map::new();
        body.insert("eventId".to_owned(), json!(event_id));
        body.insert("type".to_owned(), json!(self.kind));
        body.insert("reportId".to_owned(), json!(self.report_id));
        body.insert("owner".to_owned(), json!(self.owner));
        for (name, value) in self.fields() {
            if name != "reportId" {
                body.insert(name, value);
            }
        }
        body.insert("occurredAt".to_owned(), json!(occurred_at));
        Value::Object(body)
    }
}

/// Appends `event` to the log and the outbox, on the caller's transaction.
#[tracing::instrument(skip_all, fields(kind = event.kind, report = %event.report_id))]
pub async fn record(connection: &mut PgConnection, event: &ReportEvent) -> anyhow::Result<()> {
    let event_id = Uuid::now_v7();
    let occurred_at = Utc::now();
    event_log::append(
        &mut *connection,
        &LogEvent {
            message_id: event_id,
            owner: event.owner.clone(),
            kind: event.kind.to_owned(),
            body: Value::Object(event.fields()),
        },
    )
    .await?;
    let message = OutgoingMessage {
        message_id: event_id,
        exchange: topology::REPORTS_EVENTS.to_owned(),
        routing_key: event.kind.to_owned(),
        body: event.message_body(event_id, occurred_at).to_string(),
        traceparent: Some(zayavki_common::telemetry::current_traceparent()),
        occurred_at,
    };
    outbox::insert_all(connection, &[message]).await
}
