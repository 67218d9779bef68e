//! `business-process.report-events`: the outcome of a report this service requested joins the
//! history of its application's process (the purchase report's id and where to download it).

use std::sync::Arc;

use async_trait::async_trait;
use lapin::message::Delivery;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use zayavki_common::amqp::{DeliveryHandler, Handled};

use crate::storage::{inbox, reports, steps};

pub const CONSUMER: &str = "business-process.report-events";

/// The body of `report.completed` and `report.failed` (ARCHITECTURE.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportEvent {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub report_id: Uuid,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

pub struct ReportEventHandler {
    pool: PgPool,
}

impl ReportEventHandler {
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self { pool })
    }

    async fn record(&self, event: &ReportEvent) -> anyhow::Result<()> {
        let status = match event.kind.as_str() {
            "report.completed" => "COMPLETED",
            _ => "FAILED",
        };
        let mut transaction = self.pool.begin().await?;
        if inbox::first_time(&mut transaction, CONSUMER, event.event_id).await?
            && let Some(Some(application_id)) = reports::record_outcome(
                &mut transaction,
                event.report_id,
                status,
                event.size,
                event.reason.as_deref(),
            )
            .await?
        {
            let details = if status == "COMPLETED" {
                json!({
                    "reportId": event.report_id,
                    "format": event.format,
                    "size": event.size,
                    "download": format!("/reports/{}/download", event.report_id),
                })
            } else {
                json!({"reportId": event.report_id, "reason": event.reason})
            };
            steps::record(&mut transaction, application_id, &event.kind, details).await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl DeliveryHandler for ReportEventHandler {
    async fn handle(&self, delivery: &Delivery) -> Handled {
        let event = match super::json_body(&delivery.data).and_then(|body| {
            serde_json::from_value::<ReportEvent>(body)
                .map_err(|error| format!("not a report event: {error}"))
        }) {
            Ok(event) => event,
            Err(reason) => return Handled::Reject(reason),
        };
        if !matches!(event.kind.as_str(), "report.completed" | "report.failed") {
            return Handled::Reject(format!("unexpected report event type {:?}", event.kind));
        }
        match self.record(&event).await {
            Ok(()) => Handled::Done,
            Err(error) => Handled::Retry(error),
        }
    }
}
