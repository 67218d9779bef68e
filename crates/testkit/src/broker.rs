//! A throw-away RabbitMQ virtual host per test, created and deleted through the management HTTP
//! API, so tests that publish and consume run in parallel without sharing queues.

use anyhow::Context;
use lapin::{
    Channel, Connection,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use zayavki_common::amqp::{self, AmqpSettings};

/// The broker's AMQP address without a virtual host; `TEST_AMQP_ADDR` overrides it.
fn amqp_address() -> String {
    std::env::var("TEST_AMQP_ADDR").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into())
}

/// The management API; `TEST_RABBITMQ_MANAGEMENT_URL` overrides it.
fn management_url() -> String {
    std::env::var("TEST_RABBITMQ_MANAGEMENT_URL")
        .unwrap_or_else(|_| "http://guest:guest@127.0.0.1:15672".into())
}

/// A virtual host named `zayavki-test-<random>`, deleted when this value is dropped.
pub struct TestBroker {
    vhost: String,
}

impl TestBroker {
    /// Creates the virtual host and lets `guest` use it.
    pub async fn fresh() -> anyhow::Result<Self> {
        let vhost = format!("zayavki-test-{}", uuid::Uuid::new_v4().simple());
        let client = reqwest::Client::new();
        let base = management_url();
        client
            .put(format!("{base}/api/vhosts/{vhost}"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .context("cannot reach the RabbitMQ management API (is rabbitmq_management enabled?)")?
            .error_for_status()
            .context("cannot create a test virtual host")?;
        client
            .put(format!("{base}/api/permissions/{vhost}/guest"))
            .json(&serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}))
            .send()
            .await?
            .error_for_status()
            .context("cannot grant guest the test virtual host")?;
        Ok(Self { vhost })
    }

    pub fn vhost(&self) -> &str {
        &self.vhost
    }

    /// The AMQP URL of this virtual host.
    pub fn url(&self) -> String {
        format!("{}/{}", amqp_address(), self.vhost)
    }

    /// The broker's own TCP address (to put a proxy in front of it).
    pub fn address(&self) -> std::net::SocketAddr {
        let url = amqp_address();
        let authority = url.split("://").nth(1).unwrap_or(&url);
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        let host_port = host_port.split('/').next().unwrap_or(host_port);
        std::net::ToSocketAddrs::to_socket_addrs(host_port)
            .ok()
            .and_then(|mut addresses| addresses.next())
            .unwrap_or_else(|| panic!("TEST_AMQP_ADDR names no reachable address: {url}"))
    }

    /// The same URL through another address (a proxy in front of the broker).
    pub fn url_via(&self, address: std::net::SocketAddr) -> String {
        format!("amqp://guest:guest@{address}/{}", self.vhost)
    }

    pub fn settings(&self) -> AmqpSettings {
        AmqpSettings::new(self.url())
    }

    /// A connection and channel to this virtual host.
    pub async fn channel(&self) -> anyhow::Result<(Connection, Channel)> {
        let connection = amqp::connect(&self.settings(), "test client").await?;
        let channel = connection.create_channel().await?;
        Ok((connection, channel))
    }

    /// A consumer on a new exclusive queue bound to `exchange` with `routing_key` (the
    /// exchange must exist: declare the topology first).
    pub async fn subscribe(
        &self,
        channel: &Channel,
        exchange: &str,
        routing_key: &str,
    ) -> anyhow::Result<lapin::Consumer> {
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        let queue = ("", options, FieldTable::default());
        declare_and_consume(channel, queue, exchange, routing_key).await
    }

    /// A consumer on a durable quorum queue named `queue` bound to `exchange` with
    /// `routing_key`; it goes with the virtual host. A quorum queue delivers a message only once
    /// the broker has committed it, as the services' own queues do.
    pub async fn subscribe_quorum(
        &self,
        channel: &Channel,
        queue: &str,
        exchange: &str,
        routing_key: &str,
    ) -> anyhow::Result<lapin::Consumer> {
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let queue = (queue, options, amqp::topology::quorum([]));
        declare_and_consume(channel, queue, exchange, routing_key).await
    }

    /// The management API's view of this virtual host, e.g. `queues` or `exchanges`.
    pub async fn management_get(&self, what: &str) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}/api/{what}/{}", management_url(), self.vhost);
        Ok(reqwest::get(url).await?.error_for_status()?.json().await?)
    }

    async fn delete(vhost: String) -> anyhow::Result<()> {
        reqwest::Client::new()
            .delete(format!("{}/api/vhosts/{vhost}", management_url()))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let vhost = self.vhost.clone();
        // Dropping happens outside the test's runtime, which may be shutting down.
        let deleted = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(Self::delete(vhost)))
        })
        .join();
        if let Ok(Err(error)) = deleted {
            eprintln!(
                "could not delete test virtual host {}: {error:#}",
                self.vhost
            );
        }
    }
}

/// Declares `queue` (name, empty for one the broker names; options; arguments), binds it to
/// `exchange` with `routing_key` and consumes it without acknowledgements.
async fn declare_and_consume(
    channel: &Channel,
    (name, options, arguments): (&str, QueueDeclareOptions, FieldTable),
    exchange: &str,
    routing_key: &str,
) -> anyhow::Result<lapin::Consumer> {
    let declared = channel
        .queue_declare(name.into(), options, arguments)
        .await?;
    let queue = declared.name().as_str();
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(channel
        .basic_consume(
            queue.into(),
            format!("test {queue}").as_str().into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?)
}
