//! Connections to RabbitMQ, named so operators can tell them apart in the management UI.

use std::time::Duration;

use anyhow::Context;
use lapin::{Connection, ConnectionProperties, types::LongString};
use secrecy::{ExposeSecret, SecretString};

/// This machine's broker with its default account and virtual host.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// How long a broker may take to accept a connection (TCP and the AMQP handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing a connection may wait for the broker's answer.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the broker is. The URL may carry a password, so it never prints.
#[derive(Clone, Debug)]
pub struct AmqpSettings {
    pub url: SecretString,
    /// How long opening a connection may take before it counts as failed ([`CONNECT_TIMEOUT`]
    /// unless changed): a broker that accepts the TCP connection and then says nothing would
    /// otherwise hold its caller for good, since heartbeats start only after the handshake.
    pub connect_timeout: Duration,
}

impl AmqpSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            connect_timeout: CONNECT_TIMEOUT,
        }
    }

    /// What [`AmqpSettings::from_env`] reads.
    pub const VARIABLES: &[&str] = &["AMQP_URL"];

    /// `AMQP_URL`, defaulting to this machine's broker.
    pub fn from_env() -> Self {
        Self::new(crate::config::env_or("AMQP_URL", DEFAULT_AMQP_URL))
    }
}

/// Opens a connection named `name` (shown in the management UI's connection list).
///
/// lapin's own recovery is not enabled: it gives up after a bounded number of attempts, so
/// every long-lived user keeps a reconnect loop of its own and opens a fresh connection.
pub async fn connect(settings: &AmqpSettings, name: &str) -> anyhow::Result<Connection> {
    let properties =
        ConnectionProperties::default().with_connection_name(LongString::from(name.to_owned()));
    let connect = Connection::connect(settings.url.expose_secret(), properties);
    tokio::time::timeout(settings.connect_timeout, connect)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {:?}", settings.connect_timeout))
        .and_then(|connected| connected.map_err(anyhow::Error::from))
        .with_context(|| format!("cannot connect to RabbitMQ as {name:?}"))
}

/// Closes `connection` with `reason`, waiting at most `within` for the broker's answer. A
/// connection whose broker stopped answering (a network that drops packets rather than
/// resetting) would otherwise hold its closer until the heartbeat gives up on it; whatever
/// the broker has not confirmed by then it treats as a dropped connection, which is what
/// unacknowledged deliveries and unconfirmed publishes are built to survive. Returns whether
/// the broker answered.
pub async fn close_within(connection: &Connection, reason: &str, within: Duration) -> bool {
    match tokio::time::timeout(within, connection.close(0, reason.into())).await {
        Ok(closed) => closed.is_ok(),
        Err(_) => {
            tracing::warn!(
                ?within,
                "rabbitmq did not answer the close of a connection; leaving it"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read_recorded;

    #[tokio::test]
    async fn a_broker_that_accepts_and_never_answers_fails_the_connection_in_time() {
        let silent = zayavki_testkit::SilentListener::start()
            .await
            .expect("a listener");
        let mut settings = AmqpSettings::new(silent.amqp_url());
        settings.connect_timeout = Duration::from_millis(200);
        let outcome = tokio::time::timeout(Duration::from_secs(30), connect(&settings, "silent"))
            .await
            .expect("the attempt ends on its own");
        let error = outcome.expect_err("no broker answered");
        assert!(
            format!("{error:#}").contains("no answer within"),
            "{error:#}"
        );
    }

    #[tokio::test]
    async fn closing_a_connection_whose_broker_went_silent_ends_in_time() {
        let broker = zayavki_testkit::TestBroker::fresh()
            .await
            .expect("test vhost");
        let proxy = zayavki_testkit::TcpProxy::start(broker.address())
            .await
            .expect("proxy");
        let settings = AmqpSettings::new(broker.url_via(proxy.address()));
        let connection = connect(&settings, "going silent")
            .await
            .expect("connected through the proxy");
        let answered = connect(&settings, "answering")
            .await
            .expect("connected through the proxy");
        assert!(
            close_within(&answered, "done", Duration::from_secs(30)).await,
            "a broker that answers confirms the close"
        );

        proxy.freeze();
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            close_within(&connection, "going", Duration::from_millis(200)),
        )
        .await
        .expect("the close ends on its own, long before any heartbeat gives up");
        assert!(!outcome, "nobody answered the close");
    }

    #[test]
    fn settings_read_exactly_their_declared_variables() {
        let url = "amqp://guest:guest@rabbitmq:5672/%2f";
        let (settings, asked) = read_recorded(&[("AMQP_URL", url)], AmqpSettings::from_env);

        assert_eq!(settings.url.expose_secret(), url);
        assert_eq!(
            asked,
            AmqpSettings::VARIABLES
                .iter()
                .map(|name| (*name).to_owned())
                .collect()
        );
    }
}
