//! What every connection of a replica shares: the feed of the log, the settings, the count of
//! open connections (the `zayavki_websocket_connections` gauge), and the signal that closes
//! them all when the server stops.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::WebSocketSettings;
use crate::event_log::LogFeed;

/// Open WebSocket connections of this process.
pub const CONNECTIONS_GAUGE: &str = "zayavki_websocket_connections";
/// Connections the server closed, by `reason` (idle, too_slow, shutting_down, unavailable).
pub const CLOSED_TOTAL: &str = "zayavki_websocket_closed_total";

/// Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct WebSocketHub {
    inner: Arc<Inner>,
}

struct Inner {
    feed: Arc<LogFeed>,
    settings: WebSocketSettings,
    connections: watch::Sender<usize>,
    closing: CancellationToken,
}

impl WebSocketHub {
    /// `burst`: the most entries the follower publishes at once. A connection's window holds a
    /// burst on top of `settings.buffer`, so one that had caught up is never dropped for a
    /// single large transaction.
    pub fn new(settings: WebSocketSettings, burst: usize) -> Self {
        metrics::describe_gauge!(
            CONNECTIONS_GAUGE,
            metrics::Unit::Count,
            "Open WebSocket connections"
        );
        metrics::describe_counter!(
            CLOSED_TOTAL,
            metrics::Unit::Count,
            "WebSocket connections the server closed, by reason (idle, too_slow, shutting_down, unavailable)"
        );
        metrics::gauge!(CONNECTIONS_GAUGE).increment(0.0);
        Self {
            inner: Arc::new(Inner {
                feed: LogFeed::new(settings.buffer + burst),
                settings,
                connections: watch::channel(0).0,
                closing: CancellationToken::new(),
            }),
        }
    }

    /// The feed the replica's follower publishes to.
    pub fn feed(&self) -> Arc<LogFeed> {
        self.inner.feed.clone()
    }

    pub fn settings(&self) -> &WebSocketSettings {
        &self.inner.settings
    }

    /// How many connections are open on this replica, as it changes.
    pub fn connections(&self) -> watch::Receiver<usize> {
        self.inner.connections.subscribe()
    }

    /// Closes every connection (with 1001 "going away") and refuses none: called at shutdown.
    pub fn close_all(&self) {
        self.inner.closing.cancel();
    }

    pub(super) fn closing(&self) -> &CancellationToken {
        &self.inner.closing
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub(super) fn open(&self) -> OpenConnection {
        self.inner.connections.send_modify(|count| *count += 1);
        metrics::gauge!(CONNECTIONS_GAUGE).increment(1.0);
        OpenConnection {
            hub: self.inner.clone(),
        }
    }
}

pub(super) struct OpenConnection {
    hub: Arc<Inner>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.hub
            .connections
            .send_modify(|count| *count = count.saturating_sub(1));
        metrics::gauge!(CONNECTIONS_GAUGE).decrement(1.0);
    }
}
