//! `report-service.application-events`: every `application.status_changed` is appended to the
//! log once (deduplicated on its message id), for the applicant's and the operators' open
//! WebSockets. The delivery is acknowledged only after the append has committed.

use std::sync::Arc;

use async_trait::async_trait;
use lapin::message::Delivery;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use zayavki_common::amqp::{DeliveryHandler, Handled};

use super::{LogEvent, append};

pub const STATUS_CHANGED: &str = "application.status_changed";

/// The fields of an application event (ARCHITECTURE.md) the log keeps.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChanged {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub application_id: Uuid,
    pub applicant: String,
    pub status: String,
    #[serde(default)]
    pub previous_status: Option<String>,
    pub version: i64,
    pub title: String,
}

impl StatusChanged {
    /// Reads an event body; the error says why it can never be handled.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let event: Self = serde_json::from_slice(data)
            .map_err(|error| format!("not an application event: {error}"))?;
        if event.applicant.trim().is_empty() {
            return Err("the event names no applicant".to_owned());
        }
        Ok(event)
    }

    /// The log entry: the applicant's, with what a browser needs to refresh the application.
    pub fn log_event(&self, message_id: Uuid) -> LogEvent {
        LogEvent {
            message_id,
            owner: self.applicant.clone(),
            kind: STATUS_CHANGED.to_owned(),
            body: json!({
                "applicationId": self.application_id,
                "status": self.status,
                "previousStatus": self.previous_status,
                "version": self.version,
                "title": self.title,
            }),
        }
    }
}

/// Handles deliveries of `report-service.application-events`.
pub struct ApplicationEventHandler {
    pool: PgPool,
}

impl ApplicationEventHandler {
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self { pool })
    }

    /// Appends the event unless its message id is already logged; true when appended.
    pub async fn record(&self, event: &StatusChanged, message_id: Uuid) -> anyhow::Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let appended = append(&mut transaction, &event.log_event(message_id)).await?;
        transaction.commit().await?;
        Ok(appended)
    }
}

/// The message's `message_id` (the event id, as every publisher sets it), or the body's
/// `eventId` when the property is missing.
fn message_id(delivery: &Delivery, event: &StatusChanged) -> Result<Uuid, String> {
    match delivery.properties.message_id() {
        Some(raw) => raw
            .as_str()
            .parse()
            .map_err(|_| format!("message_id {:?} is not a UUID", raw.as_str())),
        None => Ok(event.event_id),
    }
}

#[async_trait]
impl DeliveryHandler for ApplicationEventHandler {
    async fn handle(&self, delivery: &Delivery) -> Handled {
        let event = match StatusChanged::parse(&delivery.data) {
            Ok(event) => event,
            Err(reason) => return Handled::Reject(reason),
        };
        if event.kind != STATUS_CHANGED {
            // The queue is bound to status changes only; anything else is not for the log.
            tracing::debug!(kind = %event.kind, "application event ignored");
            return Handled::Done;
        }
        let message_id = match message_id(delivery, &event) {
            Ok(message_id) => message_id,
            Err(reason) => return Handled::Reject(reason),
        };
        match self.record(&event, message_id).await {
            Ok(true) => Handled::Done,
            Ok(false) => {
                tracing::debug!(%message_id, "application event already in the event log");
                Handled::Done
            }
            Err(error) => Handled::Retry(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_change_becomes_the_applicants_log_entry() {
        let body = br#"{"eventId":"0193a4c2-0000-7000-8000-000000000001","type":"application.status_changed",
            "occurredAt":"2026-12-03T10:00:00Z","applicationId":"0193a4c2-0000-7000-8000-000000000002",
            "applicant":"user-7","status":"APPROVED","previousStatus":"PROCESSING","version":3,
            "totalAmount":"12.50","title":"Paper"}"#;

        let event = StatusChanged::parse(body).expect("an application event");
        let logged = event.log_event(event.event_id);

        assert_eq!(logged.owner, "user-7");
        assert_eq!(logged.kind, STATUS_CHANGED);
        assert_eq!(
            logged.body,
            json!({
                "applicationId": "0193a4c2-0000-7000-8000-000000000002",
                "status": "APPROVED",
                "previousStatus": "PROCESSING",
                "version": 3,
                "title": "Paper",
            })
        );
    }

    #[test]
    fn unreadable_events_say_why() {
        for (body, expected) in [
            (&b"not json"[..], "not an application event"),
            (br#"{"eventId":"x"}"#, "not an application event"),
            (
                br#"{"eventId":"0193a4c2-0000-7000-8000-000000000001","type":"application.status_changed",
                "applicationId":"0193a4c2-0000-7000-8000-000000000002","applicant":" ",
                "status":"APPROVED","version":3,"title":"Paper"}"#,
                "names no applicant",
            ),
        ] {
            let reason = StatusChanged::parse(body).expect_err("unreadable");
            assert!(reason.contains(expected), "{reason}");
        }
    }
}
