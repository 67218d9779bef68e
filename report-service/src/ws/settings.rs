//! How WebSocket connections are kept alive and how far behind a client may fall.

use std::time::Duration;

use zayavki_common::config::env_parse;

#[derive(Clone, Debug)]
pub struct WebSocketSettings {
    /// `WS_PING_INTERVAL_SECONDS`, default 20.
    pub ping_interval: Duration,
    /// `WS_IDLE_TIMEOUT_SECONDS`, default 60: a connection from which nothing arrived (not even
    /// a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// `WS_SEND_TIMEOUT_SECONDS`, default 10: a frame the client does not take within this is
    /// the end of the connection.
    pub send_timeout: Duration,
    /// `WS_BUFFER`, default 256: events a connection may leave unsent (beyond one round of the
    /// log's follower) before it is closed as too slow; the client reconnects with
    /// `lastEventId` and catches up from the log.
    pub buffer: usize,
    /// Rows read per query while replaying after `lastEventId`.
    pub replay_page: i64,
    /// How long a handshake waits for this replica to find the end of the log before it is
    /// answered 503.
    pub ready_timeout: Duration,
}

impl WebSocketSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            ping_interval: seconds("WS_PING_INTERVAL_SECONDS", defaults.ping_interval)?,
            idle_timeout: seconds("WS_IDLE_TIMEOUT_SECONDS", defaults.idle_timeout)?,
            send_timeout: seconds("WS_SEND_TIMEOUT_SECONDS", defaults.send_timeout)?,
            buffer: env_parse("WS_BUFFER", defaults.buffer)?,
            ..defaults
        })
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.ping_interval.is_zero(),
            "WS_PING_INTERVAL_SECONDS must be at least 1"
        );
        anyhow::ensure!(
            self.idle_timeout > self.ping_interval,
            "WS_IDLE_TIMEOUT_SECONDS must be longer than WS_PING_INTERVAL_SECONDS"
        );
        anyhow::ensure!(
            !self.send_timeout.is_zero(),
            "WS_SEND_TIMEOUT_SECONDS must be at least 1"
        );
        anyhow::ensure!(self.buffer >= 1, "WS_BUFFER must be at least 1");
        Ok(())
    }
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
            buffer: 256,
            replay_page: 500,
            ready_timeout: Duration::from_secs(10),
        }
    }
}

fn seconds(variable: &str, default: Duration) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(env_parse(variable, default.as_secs())?))
}
