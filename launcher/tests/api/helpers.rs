//! The system as the start command builds it, in-process on free loopback ports: fresh databases
//! for application-service and business-process, a RabbitMQ virtual host of its own, a key
//! generated for the run (as when none is configured) and the development notification sink.

use std::{future::Future, time::Duration};

use application_service::config::{Settings as ApplicationSettings, relay_settings};
use business_process::{config::Settings as ProcessSettings, notifier::NotifierSettings};
use tokio::task::JoinHandle;
use tonic::{Request, transport::Channel};
use zayavki::{
    addresses::Addresses,
    system::{System, SystemSettings},
};
use zayavki_common::shutdown::CancellationToken;
use zayavki_identity::{IdentityConfig, Role, TokenMinter};
use zayavki_testkit::{TestBroker, TestDatabase, init_test_logs};

/// Long enough for a loaded machine; tests end as soon as what they wait for happens.
pub const PATIENCE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A running system, stopped when dropped.
pub struct LaunchedSystem {
    pub addresses: Addresses,
    pub minter: TokenMinter,
    shutdown: CancellationToken,
    running: Option<JoinHandle<anyhow::Result<()>>>,
    // Dropped after the services: the databases and the virtual host outlive their users.
    _broker: TestBroker,
    _process_database: TestDatabase,
    _applications_database: TestDatabase,
}

/// Settings as the start command reads them, on free ports, against fresh databases and a
/// virtual host of their own; `configure` adjusts business-process's.
pub async fn system_settings(
    configure: impl FnOnce(&mut ProcessSettings),
) -> (SystemSettings, TokenMinter, TestResources) {
    init_test_logs();
    let broker = TestBroker::fresh().await.expect("test vhost");
    let applications_database = TestDatabase::fresh();
    let process_database = TestDatabase::fresh();
    let mut application = ApplicationSettings::for_database(applications_database.url());
    let (identity, generated) = IdentityConfig::default()
        .or_development_key()
        .expect("a key is generated outside production");
    assert!(
        generated.is_some(),
        "no key was configured, so one is generated"
    );
    application.identity = identity;
    let mut relay = relay_settings(broker.settings());
    relay.leader_retry = Duration::from_millis(100);
    relay.max_backoff = Duration::from_millis(500);
    application.events = Some(relay);
    // The system points business-process at the application-service it starts.
    let mut process = ProcessSettings::for_tests(
        process_database.url(),
        "http://127.0.0.1:9",
        broker.settings(),
    );
    let mut notifier = NotifierSettings::for_tests(None);
    notifier.sink_address = "127.0.0.1:0".parse().expect("an address");
    process.notifier = notifier;
    configure(&mut process);
    let minter = TokenMinter::new(&application.identity).expect("minter");
    (
        SystemSettings {
            application,
            process,
        },
        minter,
        TestResources {
            broker,
            process_database,
            applications_database,
        },
    )
}

/// What a system's settings point at, kept until the system is gone.
pub struct TestResources {
    broker: TestBroker,
    process_database: TestDatabase,
    applications_database: TestDatabase,
}

/// Builds and runs the system as the start command does.
pub async fn launch() -> LaunchedSystem {
    let (settings, minter, resources) = system_settings(|_| {}).await;
    let system = System::build(settings).await.expect("system starts");
    let addresses = system.addresses();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(system.run_until_stopped(shutdown.clone()));
    LaunchedSystem {
        addresses,
        minter,
        shutdown,
        running: Some(running),
        _broker: resources.broker,
        _process_database: resources.process_database,
        _applications_database: resources.applications_database,
    }
}

impl LaunchedSystem {
    /// A token for `subject` with `roles`, signed with the run's key.
    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.minter
            .mint(subject, Some(subject), roles, Duration::from_secs(3600))
            .expect("token minted")
    }

    /// Stops every service and checks that they stopped cleanly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let running = self.running.take().expect("the system runs");
        tokio::time::timeout(PATIENCE, running)
            .await
            .expect("stops within the grace period")
            .expect("joined")
            .expect("clean stop");
    }
}

impl Drop for LaunchedSystem {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.abort();
        }
    }
}

/// A gRPC channel to `address`.
pub async fn channel(address: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gRPC port accepts connections")
}

/// `message` with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// Asks `check` until it answers `Some`, every 100 ms for at most [`PATIENCE`]; panics naming
/// `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let attempts = PATIENCE.as_millis() / POLL_INTERVAL.as_millis();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for _ in 0..attempts {
        if let Some(found) = check().await {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    panic!("{what} did not happen within {PATIENCE:?}");
}
