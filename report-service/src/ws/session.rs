//! One connection, from the upgrade to the close.
//!
//! 1. At the handshake (before the client sees it succeed), subscribe to the replica's feed:
//!    the subscription says the position its live stream starts after (`head`), so every event
//!    committed after the handshake reaches the client.
//! 2. With `lastEventId`: replay the user's events in (lastEventId, head] from the log, each
//!    page anchored on the row before it, so a pruned or unknown id is noticed (a `reset` frame
//!    instead). The log holds every row up to `head`, settled, so the replay ends exactly where
//!    the live stream begins: no gap, no repeat.
//! 3. Live: every entry of the feed after what was delivered, if the user may see it; pings on
//!    an interval; closed when the client has been silent for the idle timeout, when it lags a
//!    buffer behind, or when the server stops. A frame the client does not take within the send
//!    timeout ends the connection at once, so a stuck client never holds a task for long.
//!
//! Reading runs in a task of its own (it notes when the client was last heard from and notices
//! the client leaving); the two end together.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use chrono::Utc;
use futures::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use sqlx::PgPool;
use tokio::{
    sync::{broadcast::error::RecvError, watch},
    task::JoinHandle,
    time::{Instant, sleep_until, timeout},
};
use zayavki_identity::{Identity, Role};

use super::{
    WebSocketHub,
    frames::{self, Closing},
    hub::CLOSED_TOTAL,
};
use crate::{
    download::DownloadSecret,
    event_log::{Audience, Cursor, Subscription, store},
};

/// How long a close frame may take to go out, and the client's answer to come back.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// Everything a connection needs, gathered at the handshake.
pub(super) struct Session {
    pub hub: WebSocketHub,
    pub pool: PgPool,
    pub download_secret: DownloadSecret,
    pub identity: Identity,
    pub last_event_id: Option<String>,
}

type Sink = SplitSink<WebSocket, Message>;

/// How a connection ended.
enum Ended {
    /// The client closed it, or the connection broke.
    ClientLeft,
    /// The server closes it for this reason, with a close frame.
    Closed(Closing),
    /// A frame was not taken within the send timeout: the close frame can only queue behind
    /// it, so the connection is dropped soon after.
    Stuck,
}

/// Where a replay after `lastEventId` got to.
enum CatchUp {
    /// Everything up to this position has reached the client.
    Delivered(Cursor),
    /// The id cannot be resumed from: the client must reload.
    Reset(&'static str),
}

impl Session {
    /// Serves the connection, whose live stream is `subscription`, until it ends.
    pub async fn run(self, socket: WebSocket, subscription: Subscription) {
        let _open = self.hub.open();
        let (mut sink, stream) = socket.split();
        let (heard, last_heard) = watch::channel(Instant::now());
        let mut reader = tokio::spawn(read_until_closed(stream, heard));
        let ended = self
            .push(&mut sink, &mut reader, subscription, last_heard)
            .await;
        match ended {
            Ended::ClientLeft => {
                tracing::debug!(subject = %self.identity.subject, "websocket client left");
            }
            Ended::Closed(closing) => {
                tracing::debug!(subject = %self.identity.subject, reason = closing.label(), "websocket closed");
                metrics::counter!(CLOSED_TOTAL, "reason" => closing.label()).increment(1);
                let send_timeout = self.hub.settings().send_timeout;
                if let Ok(Ok(())) = timeout(send_timeout, sink.send(closing.frame())).await {
                    // The client answers with its own close frame; the reader sees it.
                    let _ = timeout(CLOSE_HANDSHAKE, &mut reader).await;
                }
            }
            Ended::Stuck => {
                tracing::info!(subject = %self.identity.subject, "websocket client stopped reading; connection dropped");
                metrics::counter!(CLOSED_TOTAL, "reason" => Closing::TooSlow.label()).increment(1);
                // Queued behind what the client has not taken: it sees the reason only if it
                // reads again at once.
                let _ = timeout(CLOSE_HANDSHAKE, sink.send(Closing::TooSlow.frame())).await;
            }
        }
        reader.abort();
    }

    fn audience(&self) -> Audience<'_> {
        if self.identity.has_role(Role::Operator) {
            Audience::Everyone
        } else {
            Audience::Owner(&self.identity.subject)
        }
    }

    async fn push(
        &self,
        sink: &mut Sink,
        reader: &mut JoinHandle<()>,
        subscription: Subscription,
        last_heard: watch::Receiver<Instant>,
    ) -> Ended {
        let settings = self.hub.settings();
        let Subscription {
            position: head,
            mut entries,
        } = subscription;
        let mut delivered = head;
        if let Some(last_event_id) = &self.last_event_id {
            match self.catch_up(sink, last_event_id, head).await {
                Ok(CatchUp::Delivered(position)) => delivered = delivered.max(position),
                Ok(CatchUp::Reset(reason)) => {
                    let position = (head != Cursor::START).then_some(head);
                    let reset = frames::reset(position, reason, Utc::now());
                    if let Err(ended) = self.send(sink, reset).await {
                        return ended;
                    }
                }
                Err(ended) => return ended,
            }
        }

        let mut ping = tokio::time::interval_at(
            Instant::now() + settings.ping_interval,
            settings.ping_interval,
        );
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let audience = self.audience();
        loop {
            let silent_until = *last_heard.borrow() + settings.idle_timeout;
            tokio::select! {
                () = self.hub.closing().cancelled() => return Ended::Closed(Closing::ShuttingDown),
                _ = &mut *reader => return Ended::ClientLeft,
                received = entries.recv() => match received {
                    Ok(entry) if entry.position > delivered => {
                        delivered = entry.position;
                        if audience.sees(&entry.owner) {
                            let frame = frames::event(&entry, &self.download_secret, Utc::now());
                            if let Err(ended) = self.send(sink, frame).await {
                                return ended;
                            }
                        }
                    }
                    // Replayed already.
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return Ended::Closed(Closing::TooSlow),
                    Err(RecvError::Closed) => return Ended::Closed(Closing::ShuttingDown),
                },
                _ = ping.tick() => {
                    if let Err(ended) = self.send(sink, Message::Ping(Bytes::new())).await {
                        return ended;
                    }
                }
                () = sleep_until(silent_until) => {
                    if last_heard.borrow().elapsed() >= settings.idle_timeout {
                        return Ended::Closed(Closing::Idle);
                    }
                }
            }
        }
    }

    /// Replays the user's events after `last_event_id` up to `head`.
    async fn catch_up(
        &self,
        sink: &mut Sink,
        last_event_id: &str,
        head: Cursor,
    ) -> Result<CatchUp, Ended> {
        let Ok(cursor) = last_event_id.parse::<Cursor>() else {
            return Ok(CatchUp::Reset(
                "lastEventId is not an event id issued by this service",
            ));
        };
        let unknown = "the events after lastEventId are no longer kept";
        let unavailable = |error: sqlx::Error| {
            tracing::warn!(%error, "cannot replay the event log");
            Ended::Closed(Closing::Unavailable)
        };
        if cursor > head {
            // Another replica, further along the log, delivered up to it.
            let known = store::contains(&self.pool, cursor)
                .await
                .map_err(unavailable)?;
            return Ok(if known {
                CatchUp::Delivered(cursor)
            } else {
                CatchUp::Reset(unknown)
            });
        }
        let page_size = self.hub.settings().replay_page;
        let mut anchor = cursor;
        loop {
            let page = store::replay_after(&self.pool, anchor, head, self.audience(), page_size)
                .await
                .map_err(unavailable)?;
            let Some(page) = page else {
                return Ok(CatchUp::Reset(unknown));
            };
            let now = Utc::now();
            for entry in &page.entries {
                self.send(sink, frames::event(entry, &self.download_secret, now))
                    .await?;
            }
            match page.entries.last() {
                Some(last) if page.full => anchor = last.position,
                _ => return Ok(CatchUp::Delivered(head)),
            }
        }
    }

    async fn send(&self, sink: &mut Sink, message: Message) -> Result<(), Ended> {
        match timeout(self.hub.settings().send_timeout, sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ended::ClientLeft),
            Err(_) => Err(Ended::Stuck),
        }
    }
}

/// Reads until the client closes or the connection breaks, noting when anything (a pong, say)
/// last arrived. What a client sends is otherwise ignored: events flow one way.
async fn read_until_closed(mut stream: SplitStream<WebSocket>, heard: watch::Sender<Instant>) {
    while let Some(Ok(message)) = stream.next().await {
        heard.send_replace(Instant::now());
        if matches!(message, Message::Close(_)) {
            break;
        }
    }
}
