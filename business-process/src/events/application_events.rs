//! `business-process.application-events`: each application event takes effect once, in the
//! order of the application's `version`.
//!
//! The queue has a single active consumer, so events mostly arrive in order; when one arrives
//! early anyway (its predecessor was redelivered, say) it is kept in `deferred_events` and
//! applied as soon as the application reaches the version before it. A stale one (at or below
//! the version the process has seen, from an event or from application-service's own answers)
//! is acknowledged as a no-op, as is a duplicate (the inbox).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lapin::message::Delivery;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use uuid::Uuid;
use zayavki_common::{
    amqp::{DeliveryHandler, Handled},
    money::Money,
};

use crate::{
    domain::{Process, ProcessState},
    storage::{
        deferred, inbox,
        processes::{self, FirstEvent},
        steps, timers,
    },
};

pub const CONSUMER: &str = "business-process.application-events";

/// The body of an application event (ARCHITECTURE.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationEvent {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub application_id: Uuid,
    pub applicant: String,
    pub status: String,
    #[serde(default)]
    pub previous_status: Option<String>,
    pub version: i64,
    pub total_amount: String,
    pub title: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Created,
    Cancelled,
    StatusChanged,
}

impl ApplicationEvent {
    /// Reads and checks an event body; the error says why it can never be handled.
    pub fn parse(body: &Value) -> Result<Self, String> {
        let event: Self = serde_json::from_value(body.clone())
            .map_err(|error| format!("not an application event: {error}"))?;
        event.kind()?;
        event.total()?;
        if event.version < 1 {
            return Err(format!("version {} is not a version", event.version));
        }
        Ok(event)
    }

    fn kind(&self) -> Result<Kind, String> {
        match self.kind.as_str() {
            "application.created" => Ok(Kind::Created),
            "application.cancelled" => Ok(Kind::Cancelled),
            "application.status_changed" => Ok(Kind::StatusChanged),
            other => Err(format!("unknown event type {other:?}")),
        }
    }

    fn total(&self) -> Result<Money, String> {
        Money::parse_amount(&self.total_amount).map_err(|reason| format!("totalAmount {reason}"))
    }
}

/// Handles deliveries of `business-process.application-events`.
pub struct ApplicationEventHandler {
    pool: PgPool,
    /// Wakes a driver worker of this process when an event took effect (a process started, or
    /// has a cancellation to carry out).
    work: Arc<Notify>,
}

impl ApplicationEventHandler {
    pub fn new(pool: PgPool, work: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self { pool, work })
    }

    /// The effect of `event` and its inbox row, in one transaction.
    ///
    /// Most events that arrive are echoes of moves business-process made itself, which the
    /// process has already seen: such a stale event is acknowledged after one read, without a
    /// transaction. That is safe because the version a process has seen only grows, so an event
    /// stale once is stale for ever, however often it is delivered.
    pub async fn handle_event(&self, event: &ApplicationEvent, body: &Value) -> anyhow::Result<()> {
        // A creation is nearly always new and first: its process, first step and inbox row are
        // written by one statement. Only when later events of the application came first does
        // it take the transaction below, which applies them.
        if event.kind() == Ok(Kind::Created) {
            let (process, details) = new_process(event)?;
            match processes::start_at_once(
                &self.pool,
                CONSUMER,
                event.event_id,
                &process,
                CREATED_STEP,
                details,
            )
            .await?
            {
                FirstEvent::Started => {
                    self.work.notify_one();
                    return Ok(());
                }
                FirstEvent::Duplicate | FirstEvent::ProcessExists => return Ok(()),
                FirstEvent::EarlyEventsWaiting => {}
            }
        }
        if event.kind() != Ok(Kind::Created)
            && processes::seen_version(&self.pool, event.application_id)
                .await?
                .is_some_and(|seen| event.version <= seen)
        {
            tracing::debug!(application = %event.application_id, version = event.version, "stale event");
            return Ok(());
        }
        let mut transaction = self.pool.begin().await?;
        let first_time = inbox::first_time(&mut transaction, CONSUMER, event.event_id).await?;
        if first_time {
            take_effect(&mut transaction, event, body).await?;
        }
        transaction.commit().await?;
        if first_time {
            self.work.notify_one();
        }
        Ok(())
    }
}

#[async_trait]
impl DeliveryHandler for ApplicationEventHandler {
    async fn handle(&self, delivery: &Delivery) -> Handled {
        let parsed = super::json_body(&delivery.data)
            .and_then(|body| ApplicationEvent::parse(&body).map(|event| (event, body)));
        let (event, body) = match parsed {
            Ok(parsed) => parsed,
            Err(reason) => return Handled::Reject(reason),
        };
        match self.handle_event(&event, &body).await {
            Ok(()) => Handled::Done,
            Err(error) => Handled::Retry(error),
        }
    }

    /// One lane per application: its events are handled in order, others' alongside.
    fn lane_key(&self, delivery: &Delivery) -> u64 {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Key {
            application_id: Uuid,
        }
        serde_json::from_slice::<Key>(&delivery.data)
            .map_or(0, |key| key.application_id.as_u64_pair().1)
    }
}

async fn take_effect(
    connection: &mut PgConnection,
    event: &ApplicationEvent,
    body: &Value,
) -> anyhow::Result<()> {
    if event.kind() == Ok(Kind::Created) && start(connection, event).await? {
        return Ok(());
    }
    let Some(mut process) = processes::lock(connection, event.application_id).await? else {
        // Its application's creation has not arrived yet.
        return deferred::defer(
            connection,
            event.application_id,
            event.version,
            event.event_id,
            body,
        )
        .await;
    };
    if event.version <= process.application_version {
        tracing::debug!(application = %event.application_id, version = event.version, "stale event");
        return Ok(());
    }
    if event.version > process.application_version + 1 {
        tracing::debug!(application = %event.application_id, version = event.version, "early event deferred");
        return deferred::defer(
            connection,
            event.application_id,
            event.version,
            event.event_id,
            body,
        )
        .await;
    }
    apply(connection, &mut process, event).await?;
    apply_deferred(connection, &mut process).await?;
    processes::save(connection, &process).await?;
    Ok(())
}

/// A newly filed application: its process starts; false when it had started already.
async fn start(connection: &mut PgConnection, event: &ApplicationEvent) -> anyhow::Result<bool> {
    let (new, details) = new_process(event)?;
    let Some(mut process) = processes::insert_new(connection, &new).await? else {
        return Ok(false);
    };
    steps::record(connection, process.application_id, CREATED_STEP, details).await?;
    if apply_deferred(connection, &mut process).await? {
        processes::save(connection, &process).await?;
    }
    Ok(true)
}

/// The first step of every process.
const CREATED_STEP: &str = "application.created";

/// The process a newly filed application starts, and the details of its first step.
fn new_process(event: &ApplicationEvent) -> anyhow::Result<(Process, Value)> {
    let total = event.total().map_err(anyhow::Error::msg)?;
    let now = Utc::now();
    let process = Process {
        application_id: event.application_id,
        applicant: event.applicant.clone(),
        title: event.title.clone(),
        total_amount: total,
        applied_at: event.occurred_at,
        state: ProcessState::Starting,
        reason: None,
        application_version: event.version,
        version: 1,
        decision_due_at: None,
        purchase_report_id: None,
        created_at: now,
        updated_at: now,
        early_events: false,
    };
    let details =
        json!({"totalAmount": total.to_string(), "title": event.title, "eventId": event.event_id});
    Ok((process, details))
}

/// The effect of the application's next event on its process.
async fn apply(
    connection: &mut PgConnection,
    process: &mut Process,
    event: &ApplicationEvent,
) -> anyhow::Result<()> {
    process.saw_version(event.version);
    if event.kind() == Ok(Kind::Cancelled) && !process.state.is_final() {
        timers::cancel(connection, process.application_id).await?;
        if process.state != ProcessState::Cancelling {
            process.move_to(
                ProcessState::Cancelling,
                Some("the application was cancelled".to_owned()),
            );
        }
        steps::record(
            connection,
            process.application_id,
            "application.cancelled",
            json!({"version": event.version, "eventId": event.event_id}),
        )
        .await?;
    }
    Ok(())
}

/// Applies the deferred events that follow the version the process has seen, in order; true
/// when any was applied. Nothing is looked up for a process read without early events.
pub async fn apply_deferred(
    connection: &mut PgConnection,
    process: &mut Process,
) -> anyhow::Result<bool> {
    let mut applied = false;
    if !process.early_events {
        return Ok(applied);
    }
    while let Some(body) = deferred::take(
        connection,
        process.application_id,
        process.application_version + 1,
    )
    .await?
    {
        let event = ApplicationEvent::parse(&body).map_err(anyhow::Error::msg)?;
        apply(connection, process, &event).await?;
        applied = true;
    }
    Ok(applied)
}
