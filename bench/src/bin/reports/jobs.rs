//! `report.job` messages published as business-process publishes them, and the outcomes
//! (`report.completed`, `report.failed`) heard on a queue of the benchmark's own bound to
//! `reports.events`, each stamped with the moment it arrived.

use std::{collections::HashMap, time::Duration};

use anyhow::Context;
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
        "requestedAt": chrono::Utc::now(),
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
    listener: JoinHandle<()>,
    _connection: Connection,
}

impl Outcomes {
    /// Binds an exclusive queue to `reports.events` for `report.completed` and `report.failed`.
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
        for key in ["report.completed", "report.failed"] {
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
                let Ok(body) = serde_json::from_slice::<serde_json::Value>(&delivery.data) else {
                    continue;
                };
                let Some(report_id) = body["reportId"].as_str().and_then(|id| id.parse().ok())
                else {
                    continue;
                };
                let outcome = Outcome {
                    completed: body["type"] == "report.completed",
                    at,
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
            listener,
            _connection: connection,
        })
    }

    /// The outcome of `report_id`, waiting for it up to `limit`.
    pub async fn wait_for(&mut self, report_id: Uuid, limit: Duration) -> anyhow::Result<Outcome> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(outcome) = self.heard.remove(&report_id) {
                return Ok(outcome);
            }
            let (id, outcome) = tokio::time::timeout_at(deadline, self.received.recv())
                .await
                .with_context(|| format!("report {report_id} did not finish within {limit:?}"))?
                .context("the reports.events listener stopped")?;
            self.heard.insert(id, outcome);
        }
    }

    /// Waits for every report of `report_ids` within `limit`; the moment the last one was heard.
    pub async fn wait_for_all(
        &mut self,
        report_ids: &[Uuid],
        limit: Duration,
    ) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + limit;
        let mut last = None;
        for report_id in report_ids {
            let left = deadline.saturating_duration_since(Instant::now());
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
