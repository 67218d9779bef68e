//! `report.job` messages published as business-process publishes them, and the outcomes
//! (`report.completed`, `report.failed`) heard on a queue of the benchmark's own bound to
//! `reports.events`, each stamped with the moment it arrived.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lapin::{
    BasicProperties, Channel, Connection,
    options::{
        BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{FieldTable, ShortString},
};
use tokio::{sync::mpsc, task::JoinHandle, time::Instant};
use uuid::Uuid;
use zayavki_common::amqp::topology;
use zayavki_testkit::TestBroker;

/// What became of a report, and when the benchmark heard it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub completed: bool,
    pub at: Instant,
    /// The same moment by the wall clock, to set beside report-service's own timestamps.
    pub wall: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A summary job in `format` for `owner`: an applicant's covers their own applications, an
/// operator's every application.
pub fn summary_job(report_id: Uuid, owner: &str, owner_role: &str, format: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "reportId": report_id,
        "kind": "APPLICATIONS_SUMMARY",
        "format": format,
        "owner": owner,
        "ownerRole": owner_role,
        "requestedAt": Utc::now(),
    }))
    .expect("a JSON value serializes")
}

/// Publishes jobs to exchange `reports` on a confirm channel.
pub struct Publisher {
    connection: Connection,
    channel: Channel,
}

impl Publisher {
    pub async fn open(broker: &TestBroker) -> anyhow::Result<Self> {
        let (connection, channel) = broker.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            connection,
            channel,
        })
    }

    /// Publishes the job and waits for the broker's confirm.
    pub async fn publish(&self, report_id: Uuid, body: &[u8]) -> anyhow::Result<()> {
        let confirm = self
            .channel
            .basic_publish(
                ShortString::from(topology::REPORTS),
                ShortString::from(topology::REPORT_JOB_KEY),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_message_id(ShortString::from(report_id.to_string()))
                    .with_type(ShortString::from(topology::REPORT_JOB_KEY))
                    .with_content_type(ShortString::from("application/json"))
                    .with_app_id(ShortString::from("business-process")),
            )
            .await?
            .await?;
        anyhow::ensure!(
            confirm.is_ack(),
            "the broker refused report job {report_id}"
        );
        Ok(())
    }

    pub async fn close(self) {
        self.connection.close(0, "published".into()).await.ok();
    }
}

/// Outcomes heard on `reports.events`, kept by report id until asked for.
pub struct Outcomes {
    received: mpsc::UnboundedReceiver<(Uuid, Outcome)>,
    heard: HashMap<Uuid, Outcome>,
    /// Reports whose outcome has been asked for and handed out.
    settled: HashSet<Uuid>,
    /// Outcomes heard again for a report already heard of (the relay republishing).
    duplicates: u64,
    listener: JoinHandle<()>,
    _connection: Connection,
}

/// The routing keys the benchmark's queue is bound to: the outcomes, as business-process binds
/// them (progress is published without `mandatory` and dropped while nobody listens).
const BOUND_KEYS: [&str; 2] = ["report.completed", "report.failed"];

impl Outcomes {
    /// Binds an exclusive queue to `reports.events` ([`BOUND_KEYS`]); hears outcomes only.
    pub async fn listen(broker: &TestBroker) -> anyhow::Result<Self> {
        let (connection, channel) = broker.channel().await?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        for key in BOUND_KEYS {
            channel
                .queue_bind(
                    queue.name().clone(),
                    topology::REPORTS_EVENTS.into(),
                    key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        let mut consumer = channel
            .basic_consume(
                queue.name().clone(),
                "reports-bench".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let (sender, received) = mpsc::unbounded_channel();
        let listener = tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let at = Instant::now();
                let wall = Utc::now();
                let Ok(body) = serde_json::from_slice::<serde_json::Value>(&delivery.data) else {
                    continue;
                };
                if body["type"] != "report.completed" && body["type"] != "report.failed" {
                    continue;
                }
                let Some(report_id) = body["reportId"].as_str().and_then(|id| id.parse().ok())
                else {
                    continue;
                };
                let outcome = Outcome {
                    completed: body["type"] == "report.completed",
                    at,
                    wall,
                    reason: body["reason"].as_str().map(str::to_owned),
                };
                if sender.send((report_id, outcome)).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            received,
            heard: HashMap::new(),
            settled: HashSet::new(),
            duplicates: 0,
            listener,
            _connection: connection,
        })
    }

    /// The outcome of `report_id`, waiting for it up to `limit`.
    pub async fn wait_for(&mut self, report_id: Uuid, limit: Duration) -> anyhow::Result<Outcome> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(outcome) = self.heard.remove(&report_id) {
                self.settled.insert(report_id);
                return Ok(outcome);
            }
            let (id, outcome) = tokio::time::timeout_at(deadline, self.received.recv())
                .await
                .with_context(|| format!("report {report_id} did not finish within {limit:?}"))?
                .context("the reports.events listener stopped")?;
            if self.settled.contains(&id) || self.heard.contains_key(&id) {
                // The first arrival is the one that counts.
                self.duplicates += 1;
            } else {
                self.heard.insert(id, outcome);
            }
        }
    }

    /// Outcomes heard more than once for one report so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Waits for every report of `report_ids` within `limit`, failing as soon as none of them
    /// is heard of for `stall`; the moment the last one was heard.
    pub async fn wait_for_all(
        &mut self,
        report_ids: &[Uuid],
        limit: Duration,
        stall: Duration,
    ) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + limit;
        let mut last = None;
        for report_id in report_ids {
            // The jobs are built roughly in the order published: the next is never far behind.
            let left = deadline
                .saturating_duration_since(Instant::now())
                .min(stall);
            let outcome = self.wait_for(*report_id, left).await?;
            ensure_completed(*report_id, &outcome)?;
            last = Some(last.map_or(outcome.at, |last: Instant| last.max(outcome.at)));
        }
        last.context("no reports were asked for")
    }
}

impl Drop for Outcomes {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

pub fn ensure_completed(report_id: Uuid, outcome: &Outcome) -> anyhow::Result<()> {
    anyhow::ensure!(
        outcome.completed,
        "report {report_id} failed: {}",
        outcome.reason.as_deref().unwrap_or("no reason given")
    );
    Ok(())
}

/// How many consumers `queue` has (a passive declare).
pub async fn consumers(channel: &Channel, queue: &str) -> anyhow::Result<u32> {
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(declared.consumer_count())
}
