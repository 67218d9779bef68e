//! Connections to RabbitMQ, named so operators can tell them apart in the management UI.

use anyhow::Context;
use lapin::{Connection, ConnectionProperties, types::LongString};
use secrecy::{ExposeSecret, SecretString};

/// This machine's broker with its default account and virtual host.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Where the broker is. The URL may carry a password, so it never prints.
#[derive(Clone, Debug)]
pub struct AmqpSettings {
    pub url: SecretString,
}

impl AmqpSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
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
    Connection::connect(settings.url.expose_secret(), properties)
        .await
        .with_context(|| format!("cannot connect to RabbitMQ as {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read_recorded;

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
