//! What RabbitMQ sees of a run: a tap queue bound to every exchange of the system, which keeps a
//! copy of each message published, and the management API's view of the test's virtual host.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use lapin::{
    BasicProperties, Connection,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use serde_json::Value;
use zayavki_common::amqp::{self, AmqpSettings};

/// Each exchange of the system with the binding key that catches all its messages.
const EXCHANGES: [(&str, &str); 4] = [
    ("applications.events", "#"),
    ("reports", "report.job"),
    ("reports.events", "#"),
    ("reports.dead", ""),
];

/// One message as published.
#[derive(Clone, Debug)]
pub struct Published {
    pub exchange: String,
    pub routing_key: String,
    pub properties: BasicProperties,
    pub body: Vec<u8>,
}

impl Published {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Copies of every message published to the system's exchanges since [`Tap::open`].
pub struct Tap {
    _connection: Connection,
    published: Arc<Mutex<Vec<Published>>>,
}

impl Tap {
    /// Binds an exclusive queue to every exchange (which must exist) at `amqp_url`.
    pub async fn open(amqp_url: &str) -> Self {
        let connection = amqp::connect(&AmqpSettings::new(amqp_url.to_owned()), "test tap")
            .await
            .expect("the tap connects");
        let channel = connection.create_channel().await.expect("a channel");
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
            .await
            .expect("the tap queue");
        for (exchange, key) in EXCHANGES {
            channel
                .queue_bind(
                    queue.name().clone(),
                    exchange.into(),
                    key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap_or_else(|error| panic!("the tap binds to {exchange}: {error}"));
        }
        let mut consumer = channel
            .basic_consume(
                queue.name().clone(),
                "tap".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the tap consumes");
        let published = Arc::new(Mutex::new(Vec::new()));
        let collected = published.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                collected.lock().expect("tap").push(Published {
                    exchange: delivery.exchange.to_string(),
                    routing_key: delivery.routing_key.to_string(),
                    properties: delivery.properties.clone(),
                    body: delivery.data.clone(),
                });
            }
        });
        Self {
            _connection: connection,
            published,
        }
    }

    pub fn snapshot(&self) -> Vec<Published> {
        self.published.lock().expect("tap").clone()
    }
}

/// The names of what the management API lists under `what` (`exchanges`, `queues`) in `vhost`.
pub fn names(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
        .collect()
}

/// Whether `bindings` (the management API's list) binds `destination` to `source` with `key`.
pub fn is_bound(bindings: &Value, source: &str, destination: &str, key: &str) -> bool {
    bindings.as_array().expect("a list").iter().any(|binding| {
        binding["source"] == source
            && binding["destination"] == destination
            && binding["destination_type"] == "queue"
            && binding["routing_key"] == key
    })
}

/// Messages ready in `queue`, as the management API counts them.
pub fn ready_messages(queues: &Value, queue: &str) -> Option<u64> {
    queues
        .as_array()?
        .iter()
        .find(|entry| entry["name"] == queue)?
        .get("messages_ready")?
        .as_u64()
}
