//! The system's RabbitMQ topology (ARCHITECTURE.md): every exchange, queue and binding, with
//! exactly the arguments agreed between the services.
//!
//! Every service and the start command call [`declare_topology`] before publishing or consuming,
//! so the queues exist before any publisher needs them (a mandatory publish to a missing queue
//! is returned). Declaring is idempotent: declaring again, or against a broker that already has
//! the topology, changes nothing.

use anyhow::Context;
use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

/// Every application change: `application.created`, `application.cancelled`,
/// `application.status_changed`.
pub const APPLICATIONS_EVENTS: &str = "applications.events";
/// Report jobs, routed by `report.job`.
pub const REPORTS: &str = "reports";
/// Where report jobs go when they cannot be built.
pub const REPORTS_DEAD: &str = "reports.dead";
/// Report progress and outcomes: `report.progress`, `report.completed`, `report.failed`.
pub const REPORTS_EVENTS: &str = "reports.events";

pub const BUSINESS_PROCESS_APPLICATION_EVENTS: &str = "business-process.application-events";
pub const BUSINESS_PROCESS_REPORT_EVENTS: &str = "business-process.report-events";
pub const REPORT_SERVICE_APPLICATION_EVENTS: &str = "report-service.application-events";
pub const REPORTS_JOBS: &str = "reports.jobs";
pub const REPORTS_JOBS_DEAD: &str = "reports.jobs.dead";
/// Delay queues a report job waits in before it is tried again, shortest first.
pub const REPORTS_JOBS_RETRY: [(&str, u32); 3] = [
    ("reports.jobs.retry.10s", 10_000),
    ("reports.jobs.retry.1m", 60_000),
    ("reports.jobs.retry.5m", 300_000),
];

pub const REPORT_JOB_KEY: &str = "report.job";

/// The dead-letter queue of a consumer queue: where its consumer puts what it cannot handle.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

struct Exchange {
    name: &'static str,
    kind: ExchangeKind,
}

struct Queue {
    name: String,
    arguments: FieldTable,
    bindings: Vec<(&'static str, &'static str)>,
}

fn exchanges() -> [Exchange; 4] {
    [
        Exchange {
            name: APPLICATIONS_EVENTS,
            kind: ExchangeKind::Topic,
        },
        Exchange {
            name: REPORTS,
            kind: ExchangeKind::Direct,
        },
        Exchange {
            name: REPORTS_DEAD,
            kind: ExchangeKind::Fanout,
        },
        Exchange {
            name: REPORTS_EVENTS,
            kind: ExchangeKind::Topic,
        },
    ]
}

fn queues() -> Vec<Queue> {
    let mut queues = vec![
        Queue {
            name: BUSINESS_PROCESS_APPLICATION_EVENTS.to_owned(),
            arguments: quorum([("x-single-active-consumer", AMQPValue::Boolean(true))]),
            bindings: vec![(APPLICATIONS_EVENTS, "application.#")],
        },
        Queue {
            name: REPORTS_JOBS.to_owned(),
            arguments: quorum([
                ("x-delivery-limit", AMQPValue::LongInt(5)),
                ("x-dead-letter-exchange", text(REPORTS_DEAD)),
                ("x-dead-letter-strategy", text("at-least-once")),
                ("x-overflow", text("reject-publish")),
            ]),
            bindings: vec![(REPORTS, REPORT_JOB_KEY)],
        },
        Queue {
            name: REPORTS_JOBS_DEAD.to_owned(),
            arguments: quorum([]),
            bindings: vec![(REPORTS_DEAD, "")],
        },
        Queue {
            name: REPORT_SERVICE_APPLICATION_EVENTS.to_owned(),
            arguments: quorum([]),
            bindings: vec![(APPLICATIONS_EVENTS, "application.status_changed")],
        },
        Queue {
            name: BUSINESS_PROCESS_REPORT_EVENTS.to_owned(),
            arguments: quorum([]),
            bindings: vec![
                (REPORTS_EVENTS, "report.completed"),
                (REPORTS_EVENTS, "report.failed"),
            ],
        },
    ];
    for (name, ttl_millis) in REPORTS_JOBS_RETRY {
        queues.push(Queue {
            name: name.to_owned(),
            arguments: quorum([
                ("x-message-ttl", AMQPValue::LongInt(ttl_millis as i32)),
                ("x-dead-letter-exchange", text(REPORTS)),
                ("x-dead-letter-routing-key", text(REPORT_JOB_KEY)),
                ("x-dead-letter-strategy", text("at-least-once")),
                ("x-overflow", text("reject-publish")),
            ]),
            bindings: Vec::new(),
        });
    }
    for consumer_queue in [
        BUSINESS_PROCESS_APPLICATION_EVENTS,
        REPORT_SERVICE_APPLICATION_EVENTS,
        BUSINESS_PROCESS_REPORT_EVENTS,
    ] {
        queues.push(Queue {
            name: dead_letter_queue(consumer_queue),
            arguments: quorum([]),
            bindings: Vec::new(),
        });
    }
    queues
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.to_owned()))
}

/// The arguments of a quorum queue, with `extra` ones.
pub fn quorum<const N: usize>(extra: [(&str, AMQPValue); N]) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(ShortString::from("x-queue-type"), text("quorum"));
    for (key, value) in extra {
        arguments.insert(ShortString::from(key.to_owned()), value);
    }
    arguments
}

/// Declares every exchange, queue and binding of the system on `channel`.
#[tracing::instrument(skip_all)]
pub async fn declare_topology(channel: &Channel) -> anyhow::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for exchange in exchanges() {
        channel
            .exchange_declare(
                ShortString::from(exchange.name),
                exchange.kind,
                durable_exchange,
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("cannot declare exchange {}", exchange.name))?;
    }
    for queue in queues() {
        channel
            .queue_declare(
                ShortString::from(queue.name.clone()),
                QueueDeclareOptions::durable(),
                queue.arguments,
            )
            .await
            .with_context(|| format!("cannot declare queue {}", queue.name))?;
        for (exchange, routing_key) in queue.bindings {
            channel
                .queue_bind(
                    ShortString::from(queue.name.clone()),
                    ShortString::from(exchange),
                    ShortString::from(routing_key),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .with_context(|| {
                    format!(
                        "cannot bind queue {} to {exchange} ({routing_key})",
                        queue.name
                    )
                })?;
        }
    }
    tracing::debug!("rabbitmq topology declared");
    Ok(())
}

/// Connects as `connection_name`, declares the topology and disconnects (for the start command
/// and for operators' tools).
pub async fn declare_topology_at(
    settings: &super::AmqpSettings,
    connection_name: &str,
) -> anyhow::Result<()> {
    let connection = super::connect(settings, connection_name).await?;
    let channel = connection.create_channel().await?;
    declare_topology(&channel).await?;
    super::close_within(&connection, "topology declared", super::CLOSE_TIMEOUT).await;
    Ok(())
}

/// Names of every queue the topology declares (for operators' checks and tests).
pub fn queue_names() -> Vec<String> {
    queues().into_iter().map(|queue| queue.name).collect()
}

/// Names of every exchange the topology declares.
pub fn exchange_names() -> Vec<&'static str> {
    exchanges().iter().map(|exchange| exchange.name).collect()
}
