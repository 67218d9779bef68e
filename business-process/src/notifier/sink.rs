//! The development notification sink: stands in for the outside notification service when
//! `NOTIFIER_URL` is not set, so the whole flow runs on one machine and what would have been sent
//! can be read.
//!
//! `POST /notifications` takes the service's JSON `{id, recipient, subject, body, applicationId}`
//! and answers 202. A notification whose `id` it already has is answered the same way (the real
//! service deduplicates on it too) and counted as a repeat. `GET /notifications` lists them:
//! `{"notifications": [... in arrival order ...], "received": <every POST taken>, "repeats":
//! <those with an id already listed>}`. Everything is kept in memory for the life of the process.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use anyhow::Context;
use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One notification as the service receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedNotification {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Uuid>,
}

/// The answer of `GET /notifications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedList {
    pub notifications: Vec<ReceivedNotification>,
    pub received: u64,
    pub repeats: u64,
}

#[derive(Default)]
struct Received {
    list: ReceivedList,
    ids: HashSet<Uuid>,
}

#[derive(Clone, Default)]
struct SinkState {
    received: Arc<Mutex<Received>>,
}

impl SinkState {
    fn lock(&self) -> MutexGuard<'_, Received> {
        // Every update leaves the lists consistent, so one that panicked left nothing half-done.
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A bound sink; `run_until_stopped` serves it.
pub struct NotificationSink {
    listener: TcpListener,
}

impl NotificationSink {
    /// Binds `address` (port 0 picks a free port).
    pub async fn bind(address: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen for the notification sink on {address}"))?;
        Ok(Self { listener })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = %self.address(), "notification sink listening");
        axum::serve(self.listener, router())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("the notification sink stopped")
    }
}

fn router() -> Router {
    Router::new()
        .route("/notifications", post(receive).get(list))
        .with_state(SinkState::default())
}

async fn receive(
    State(state): State<SinkState>,
    Json(notification): Json<ReceivedNotification>,
) -> StatusCode {
    let mut received = state.lock();
    received.list.received += 1;
    if received.ids.insert(notification.id) {
        tracing::info!(notification_id = %notification.id, recipient = %notification.recipient, subject = %notification.subject, "notification received");
        received.list.notifications.push(notification);
    } else {
        received.list.repeats += 1;
        tracing::debug!(notification_id = %notification.id, "notification received again");
    }
    StatusCode::ACCEPTED
}

async fn list(State(state): State<SinkState>) -> Json<ReceivedList> {
    Json(state.lock().list.clone())
}
