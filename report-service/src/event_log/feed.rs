//! The live side of the log on one replica: the follower publishes every settled entry here, in
//! log order, and every WebSocket connection of the replica subscribes.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::{Cursor, LogEntry};

/// Entries fanned out to the replica's connections. Each subscriber has its own bounded window
/// of unread entries: one that falls further behind is told so ([`broadcast::error::RecvError::Lagged`])
/// instead of holding anyone else up.
pub struct LogFeed {
    entries: broadcast::Sender<Arc<LogEntry>>,
    /// The position of the last entry published, `None` until the follower has found the end
    /// of the log. Entries are sent while holding its lock, so a subscriber learns exactly
    /// where its live stream begins.
    published: watch::Sender<Option<Cursor>>,
}

/// A subscriber's view: every entry after `position` arrives on `entries`.
pub struct Subscription {
    pub position: Cursor,
    pub entries: broadcast::Receiver<Arc<LogEntry>>,
}

impl LogFeed {
    /// `window`: how many entries a subscriber may leave unread before it has lagged.
    pub fn new(window: usize) -> Arc<Self> {
        Arc::new(Self {
            entries: broadcast::channel(window.max(1)).0,
            published: watch::channel(None).0,
        })
    }

    /// Waits until the follower has found the end of the log, then subscribes.
    pub async fn subscribe(&self) -> Subscription {
        let mut published = self.published.subscribe();
        // The sender lives in `self`: the wait can only end with the end of the log known.
        let _ = published.wait_for(Option::is_some).await;
        // Subscribing under the lock the follower publishes under: nothing is sent in between.
        let position = published.borrow();
        Subscription {
            position: position.unwrap_or(Cursor::START),
            entries: self.entries.subscribe(),
        }
    }

    /// Where the follower starts: nothing at or before `position` will be published.
    pub(super) fn start_at(&self, position: Cursor) {
        self.published
            .send_if_modified(|published| match published {
                Some(_) => false,
                None => {
                    *published = Some(position);
                    true
                }
            });
    }

    /// Sends `entries` (the next ones in log order) to every subscriber.
    pub(super) fn publish(&self, entries: Vec<LogEntry>) {
        let Some(last) = entries.last().map(|entry| entry.position) else {
            return;
        };
        self.published.send_modify(|published| {
            for entry in entries {
                // No subscriber at the moment is not a failure.
                let _ = self.entries.send(Arc::new(entry));
            }
            *published = Some(last);
        });
    }

    /// Where the live stream is: the last entry published.
    pub fn position(&self) -> Option<Cursor> {
        *self.published.borrow()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn entry(transaction: i64, id: i64) -> LogEntry {
        LogEntry {
            position: Cursor { transaction, id },
            at: Utc::now(),
            owner: "user-1".to_owned(),
            kind: "report.progress".to_owned(),
            body: json!({"percent": id}),
        }
    }

    #[tokio::test]
    async fn a_subscriber_gets_every_entry_after_its_position_and_none_before() {
        let feed = LogFeed::new(16);
        feed.start_at(Cursor {
            transaction: 9,
            id: 1,
        });
        feed.publish(vec![entry(10, 2), entry(10, 3)]);

        let mut subscription = feed.subscribe().await;
        feed.publish(vec![entry(11, 4)]);

        assert_eq!(
            subscription.position,
            Cursor {
                transaction: 10,
                id: 3
            }
        );
        let next = subscription.entries.recv().await.expect("an entry");
        assert_eq!(
            next.position,
            Cursor {
                transaction: 11,
                id: 4
            }
        );
        assert!(subscription.entries.try_recv().is_err());
    }

    #[tokio::test]
    async fn subscribing_waits_for_the_follower_to_find_the_end_of_the_log() {
        let feed = LogFeed::new(16);
        let waiting = tokio::spawn({
            let feed = feed.clone();
            async move { feed.subscribe().await.position }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());

        feed.start_at(Cursor {
            transaction: 5,
            id: 5,
        });

        assert_eq!(
            waiting.await.expect("subscribed"),
            Cursor {
                transaction: 5,
                id: 5
            }
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_a_window_behind_has_lagged() {
        let feed = LogFeed::new(2);
        feed.start_at(Cursor::START);
        let mut subscription = feed.subscribe().await;

        feed.publish((1..=3).map(|id| entry(1, id)).collect());

        assert!(matches!(
            subscription.entries.recv().await,
            Err(broadcast::error::RecvError::Lagged(1))
        ));
    }
}
