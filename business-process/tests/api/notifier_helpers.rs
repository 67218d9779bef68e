//! For the notification tests: a migrated database of their own, and a fake notification
//! service (the outside service we do not own) that can accept, fail, hang, refuse a notification
//! or stop listening altogether.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use business_process::{
    notifier::{NotifierSettings, Transition, sink::ReceivedNotification},
    storage::{
        MIGRATOR,
        notifications::{self, NewNotification},
    },
};
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::broadcast, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use zayavki_common::database::{DatabaseSettings, ensure_database_exists, lazy_pool};
use zayavki_testkit::{TestDatabase, init_test_logs};

/// The longest a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A fresh database with business-process's tables.
pub struct NotifierDatabase {
    pub pool: PgPool,
    // Dropped after the pool.
    _database: TestDatabase,
}

impl NotifierDatabase {
    pub async fn create() -> Self {
        init_test_logs();
        let database = TestDatabase::fresh();
        let settings = DatabaseSettings::new(database.url());
        ensure_database_exists(&settings)
            .await
            .expect("the test database is created");
        let pool = lazy_pool(&settings).expect("a pool to the test database");
        MIGRATOR.run(&pool).await.expect("migrations apply");
        Self {
            pool,
            _database: database,
        }
    }

    /// Queues `count` notifications in one transaction, as a step of a process would.
    pub async fn enqueue(&self, count: usize) -> Vec<Uuid> {
        let mut transaction = self.pool.begin().await.expect("a transaction");
        let mut ids = Vec::with_capacity(count);
        for number in 0..count {
            let notification = notification(number);
            notifications::enqueue(&mut transaction, &notification)
                .await
                .expect("the notification is queued");
            ids.push(notification.id);
        }
        transaction.commit().await.expect("commit");
        ids
    }

    /// Ids of the notifications still to deliver (refused ones included).
    pub async fn undelivered_ids(&self) -> Vec<Uuid> {
        sqlx::query_scalar("SELECT id FROM notifications WHERE delivered_at IS NULL")
            .fetch_all(&self.pool)
            .await
            .expect("undelivered notifications")
    }
}

pub fn notification(number: usize) -> NewNotification {
    NewNotification {
        id: Uuid::new_v4(),
        recipient: format!("person-{number}"),
        subject: "Заявка одобрена".to_owned(),
        body: format!("Application number {number} was approved."),
        application_id: Some(Uuid::new_v4()),
    }
}

/// Settings pointing at `address`, with short waits.
pub fn settings_for(address: SocketAddr) -> NotifierSettings {
    NotifierSettings::for_tests(Some(format!("http://{address}")))
}

/// Waits for the breaker's next transition.
pub async fn next_transition(transitions: &mut broadcast::Receiver<Transition>) -> Transition {
    tokio::time::timeout(PATIENCE, transitions.recv())
        .await
        .expect("the breaker changed state in time")
        .expect("the breaker is still there")
}

/// Waits until the breaker makes the transition `from` → `to`, passing over others.
pub async fn wait_for_transition(
    transitions: &mut broadcast::Receiver<Transition>,
    expected: Transition,
) {
    while next_transition(transitions).await != expected {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers 202, deduplicating by id.
    Accept,
    /// Answers 500.
    Fail,
    /// Answers only once told to behave otherwise, then with 503.
    Hang,
    /// Answers this status: the service refuses the notification itself.
    Refuse(StatusCode),
}

#[derive(Default)]
struct Calls {
    accepted: Vec<ReceivedNotification>,
    ids: HashSet<Uuid>,
    repeats: usize,
    requests: usize,
    /// Requests answered with a failure before being accepted, counted down.
    failures_to_come: usize,
}

#[derive(Clone)]
struct Shared {
    behaviour: watch::Sender<Behaviour>,
    calls: Arc<Mutex<Calls>>,
    /// Requests received so far, for waiting.
    requests: watch::Sender<usize>,
    /// Distinct notifications accepted so far, for waiting.
    accepted: watch::Sender<usize>,
}

impl Shared {
    fn calls(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().expect("the fake's lock")
    }
}

/// The outside notification service, faked.
pub struct FakeNotificationService {
    address: SocketAddr,
    shared: Shared,
    server: Option<(CancellationToken, JoinHandle<()>)>,
}

impl FakeNotificationService {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("a bound address");
        let shared = Shared {
            behaviour: watch::channel(Behaviour::Accept).0,
            calls: Arc::default(),
            requests: watch::channel(0).0,
            accepted: watch::channel(0).0,
        };
        let mut fake = Self {
            address,
            shared,
            server: None,
        };
        fake.serve(listener);
        fake
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.shared.behaviour.send_replace(behaviour);
    }

    /// Fails the next `count` requests with 500, then behaves as told.
    pub fn fail_next(&self, count: usize) {
        self.shared.calls().failures_to_come = count;
    }

    /// Closes the listener and every open connection: calls are refused at connect. Hanging
    /// requests are answered (503) first, or the connections would stay open.
    pub async fn stop_listening(&mut self) {
        if *self.shared.behaviour.borrow() == Behaviour::Hang {
            self.behave(Behaviour::Fail);
        }
        if let Some((stop, server)) = self.server.take() {
            stop.cancel();
            tokio::time::timeout(PATIENCE, server)
                .await
                .expect("the fake's connections close")
                .expect("the fake's server ends cleanly");
        }
    }

    /// Listens on the same address again.
    pub async fn resume_listening(&mut self) {
        let listener = TcpListener::bind(self.address).await.expect("rebind");
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let stop = CancellationToken::new();
        let router = Router::new()
            .route("/notifications", post(receive))
            .with_state(self.shared.clone());
        let server = tokio::spawn({
            let stop = stop.clone();
            async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .expect("the fake serves");
            }
        });
        self.server = Some((stop, server));
    }

    /// The notifications accepted, each once, in arrival order.
    pub fn accepted(&self) -> Vec<ReceivedNotification> {
        self.shared.calls().accepted.clone()
    }

    /// Notifications received again after they were accepted.
    pub fn repeats(&self) -> usize {
        self.shared.calls().repeats
    }

    pub fn requests(&self) -> usize {
        self.shared.calls().requests
    }

    /// Waits until `count` distinct notifications were accepted; returns them in arrival order.
    /// As patient as the whole-system tests: a burst after restarts may take a while.
    pub async fn wait_for_accepted(&self, count: usize) -> Vec<ReceivedNotification> {
        let mut accepted = self.shared.accepted.subscribe();
        let patience = crate::helpers::PATIENCE;
        tokio::time::timeout(patience, accepted.wait_for(|accepted| *accepted >= count))
            .await
            .unwrap_or_else(|_| panic!("{count} notifications were never accepted"))
            .expect("the fake is there");
        self.accepted()
    }

    /// Waits until at least `count` requests arrived.
    pub async fn wait_for_requests(&self, count: usize) {
        let mut requests = self.shared.requests.subscribe();
        tokio::time::timeout(PATIENCE, requests.wait_for(|received| *received >= count))
            .await
            .unwrap_or_else(|_| panic!("{count} requests never arrived"))
            .expect("the fake is there");
    }
}

impl Drop for FakeNotificationService {
    fn drop(&mut self) {
        // Lets hanging requests end, so the server's connections close.
        self.behave(Behaviour::Fail);
        if let Some((stop, _)) = &self.server {
            stop.cancel();
        }
    }
}

async fn receive(
    State(shared): State<Shared>,
    Json(notification): Json<ReceivedNotification>,
) -> StatusCode {
    let behaviour = *shared.behaviour.borrow();
    let fails_now = {
        let mut calls = shared.calls();
        calls.requests += 1;
        let fails_now = calls.failures_to_come > 0;
        calls.failures_to_come = calls.failures_to_come.saturating_sub(1);
        fails_now
    };
    shared.requests.send_modify(|requests| *requests += 1);
    if fails_now {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    match behaviour {
        Behaviour::Accept => {
            let accepted = {
                let mut calls = shared.calls();
                if calls.ids.insert(notification.id) {
                    calls.accepted.push(notification);
                } else {
                    calls.repeats += 1;
                }
                calls.accepted.len()
            };
            shared.accepted.send_replace(accepted);
            StatusCode::ACCEPTED
        }
        Behaviour::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::Refuse(status) => status,
        Behaviour::Hang => {
            let mut changes = shared.behaviour.subscribe();
            // An error only means the fake is gone.
            let _ = changes
                .wait_for(|behaviour| *behaviour != Behaviour::Hang)
                .await;
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
