//! How the log is followed and how long it is kept.

use std::time::Duration;

use zayavki_common::config::env_parse;

#[derive(Clone, Debug)]
pub struct EventLogSettings {
    /// `EVENT_LOG_RETENTION_SECONDS`, default 86400 (24 h): how long an event is kept, and so
    /// how long a client may be away and still be brought up to date with `lastEventId`.
    pub retention: Duration,
    /// `EVENT_LOG_PRUNE_INTERVAL_SECONDS`, default 600.
    pub prune_interval: Duration,
    /// `EVENT_LOG_POLL_SECONDS`, default 5: the longest the follower sleeps without a
    /// notification, as a safety net.
    pub poll_interval: Duration,
    /// Rows read per round.
    pub batch_size: i64,
    /// Retrying a database that is away backs off up to this.
    pub max_backoff: Duration,
}

impl EventLogSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            retention: seconds("EVENT_LOG_RETENTION_SECONDS", defaults.retention)?,
            prune_interval: seconds("EVENT_LOG_PRUNE_INTERVAL_SECONDS", defaults.prune_interval)?,
            poll_interval: seconds("EVENT_LOG_POLL_SECONDS", defaults.poll_interval)?,
            ..defaults
        })
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.retention.is_zero(),
            "EVENT_LOG_RETENTION_SECONDS must be at least 1"
        );
        anyhow::ensure!(
            !self.prune_interval.is_zero(),
            "EVENT_LOG_PRUNE_INTERVAL_SECONDS must be at least 1"
        );
        anyhow::ensure!(
            !self.poll_interval.is_zero(),
            "EVENT_LOG_POLL_SECONDS must be at least 1"
        );
        Ok(())
    }
}

impl Default for EventLogSettings {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(24 * 3600),
            prune_interval: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            batch_size: 500,
            max_backoff: Duration::from_secs(5),
        }
    }
}

fn seconds(variable: &str, default: Duration) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(env_parse(variable, default.as_secs())?))
}
