//! The system a process test needs, in-process on free loopback ports: application-service
//! (publishing its events) and business-process on fresh databases, a RabbitMQ virtual host of
//! their own, a fake notification service, and clients authenticated as chosen users.

use std::{sync::Arc, time::Duration};

use application_service::{
    config::Settings as ApplicationSettings, startup::Application as ApplicationService,
};
use business_process::{config::Settings, domain::ProcessState, startup::Application};
use sqlx::{PgPool, postgres::PgListener};
use tokio::task::JoinHandle;
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use uuid::Uuid;
use zayavki_common::{outbox::RelaySettings, shutdown::CancellationToken};
use zayavki_identity::{IdentityConfig, Role, TokenMinter};
use zayavki_proto::{
    applications::v1::{
        self as applications, application_service_client::ApplicationServiceClient,
    },
    process::v1::{self as process, business_process_service_client::BusinessProcessServiceClient},
};
use zayavki_testkit::{TestBroker, TestDatabase, init_test_logs};

use crate::notifier_helpers::FakeNotificationService;

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
/// Long enough for a loaded machine; tests end as soon as what they wait for happens.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub type ApplicationsClient = ApplicationServiceClient<InterceptedService<Channel, Bearer>>;
pub type ProcessClient = BusinessProcessServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

fn identity() -> IdentityConfig {
    IdentityConfig::development().0.with_secret(TEST_SECRET)
}

/// A service running on its own shutdown token.
struct Running {
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("stops within the grace period")
                .expect("task completes")
                .expect("ends cleanly");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// application-service, business-process and what they need.
pub struct TestSystem {
    pub process_pool: PgPool,
    pub applications_pool: PgPool,
    pub notifier: FakeNotificationService,
    minter: TokenMinter,
    applications_channel: Channel,
    process_channel: Option<Channel>,
    process_http: Option<std::net::SocketAddr>,
    process: Option<Running>,
    /// Further business-process replicas on the same database and virtual host.
    replicas: Vec<Running>,
    process_settings: Settings,
    _application_service: Running,
    // Dropped last: databases and the virtual host outlive the services using them.
    pub broker: Arc<TestBroker>,
    _process_database: TestDatabase,
    _applications_database: TestDatabase,
}

/// Starts everything with the defaults of `Settings::for_tests`, adjusted by `configure`.
pub async fn spawn_system(configure: impl FnOnce(&mut Settings)) -> TestSystem {
    spawn_system_with(|_| {}, configure).await
}

/// The same, with application-service's settings adjusted by `configure_applications` too.
pub async fn spawn_system_with(
    configure_applications: impl FnOnce(&mut ApplicationSettings),
    configure: impl FnOnce(&mut Settings),
) -> TestSystem {
    init_test_logs();
    let broker = Arc::new(TestBroker::fresh().await.expect("test vhost"));
    // As the start command does before any service starts: a message a test puts on a queue
    // must find it there, whether or not a consumer has connected yet.
    zayavki_common::amqp::topology::declare_topology_at(&broker.settings(), "test setup")
        .await
        .expect("topology declared");
    let applications_database = TestDatabase::fresh();
    let mut application_settings = ApplicationSettings::for_database(applications_database.url());
    application_settings.identity = identity();
    let mut relay = RelaySettings::new(broker.settings(), "application-service");
    relay.leader_retry = Duration::from_millis(100);
    relay.max_backoff = Duration::from_millis(500);
    application_settings.events = Some(relay);
    configure_applications(&mut application_settings);
    let application_service = ApplicationService::build(application_settings)
        .await
        .expect("application-service starts");
    let applications_address = application_service.grpc_address();
    let applications_pool = application_service.pool().clone();
    let applications_shutdown = CancellationToken::new();
    let applications_task =
        tokio::spawn(application_service.run_until_stopped(applications_shutdown.clone()));

    let notifier = FakeNotificationService::start().await;
    let process_database = TestDatabase::fresh();
    let mut settings = Settings::for_tests(
        process_database.url(),
        &format!("http://{applications_address}"),
        broker.settings(),
    );
    settings.identity = identity();
    settings.notifier =
        business_process::notifier::NotifierSettings::for_tests(Some(notifier.url()));
    configure(&mut settings);
    let minter = TokenMinter::new(&settings.identity).expect("test tokens can be minted");
    let applications_channel = connect(&format!("http://{applications_address}")).await;
    let mut system = TestSystem {
        process_pool: PgPool::connect_lazy(process_database.url()).expect("pool"),
        applications_pool,
        notifier,
        minter,
        applications_channel,
        process_channel: None,
        process_http: None,
        process: None,
        replicas: Vec::new(),
        process_settings: settings,
        _application_service: Running {
            shutdown: applications_shutdown,
            task: Some(applications_task),
        },
        broker,
        _process_database: process_database,
        _applications_database: applications_database,
    };
    system.start_process_service().await;
    system
}

async fn connect(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gRPC port accepts connections")
}

impl TestSystem {
    /// Starts business-process (again) on the same database and ports chosen afresh.
    pub async fn start_process_service(&mut self) {
        let application = Application::build(self.process_settings.clone())
            .await
            .expect("business-process starts");
        let address = application.grpc_address();
        self.process_http = Some(application.http_address());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(application.run_until_stopped(shutdown.clone()));
        self.process_channel = Some(connect(&format!("http://{address}")).await);
        self.process = Some(Running {
            shutdown,
            task: Some(task),
        });
    }

    /// Starts one more business-process replica beside the first (its own ports, same database
    /// and queues): a hot standby for the single active consumer, and more workers.
    pub async fn start_replica(&mut self) {
        let application = Application::build(self.process_settings.clone())
            .await
            .expect("a business-process replica starts");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(application.run_until_stopped(shutdown.clone()));
        self.replicas.push(Running {
            shutdown,
            task: Some(task),
        });
    }

    /// Stops business-process cleanly.
    pub async fn stop_process_service(&mut self) {
        if let Some(mut running) = self.process.take() {
            running.stop().await;
        }
    }

    /// Stops business-process at once, wherever it is: its tasks are dropped mid-step.
    pub fn kill_process_service(&mut self) {
        if let Some(running) = self.process.take() {
            drop(running);
        }
    }

    /// business-process's `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let address = self.process_http.expect("business-process runs");
        reqwest::get(format!("http://{address}/metrics"))
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.minter
            .mint(subject, Some(subject), roles, Duration::from_secs(3600))
            .expect("token minted")
    }

    fn bearer(&self, subject: &str, roles: &[Role]) -> Bearer {
        Bearer(
            format!("Bearer {}", self.token(subject, roles))
                .parse()
                .expect("ascii token"),
        )
    }

    pub fn applicant(&self, subject: &str) -> ApplicationsClient {
        ApplicationServiceClient::with_interceptor(
            self.applications_channel.clone(),
            self.bearer(subject, &[Role::Applicant]),
        )
    }

    pub fn process_client(&self, subject: &str, roles: &[Role]) -> ProcessClient {
        BusinessProcessServiceClient::with_interceptor(
            self.process_channel.clone().expect("business-process runs"),
            self.bearer(subject, roles),
        )
    }

    pub fn operator(&self) -> ProcessClient {
        self.process_client("olga", &[Role::Operator])
    }

    /// Files an application for `applicant` with one item of `quantity` × `unit_price`.
    pub async fn file(&self, applicant: &str, title: &str, unit_price: &str) -> Uuid {
        let filed = self
            .applicant(applicant)
            .create_application(applications::CreateApplicationRequest {
                request_id: String::new(),
                application: Some(applications::NewApplication {
                    title: title.to_owned(),
                    description: None,
                    items: vec![applications::ApplicationItem {
                        name: "Позиция".to_owned(),
                        quantity: 1,
                        unit_price: unit_price.to_owned(),
                    }],
                }),
            })
            .await
            .expect("application filed")
            .into_inner();
        filed.id.parse().expect("a UUID")
    }

    pub async fn process(&self, application_id: Uuid) -> process::Process {
        self.operator()
            .get_process(process::GetProcessRequest {
                application_id: application_id.to_string(),
            })
            .await
            .expect("process readable")
            .into_inner()
    }

    /// The application's status in application-service.
    pub async fn application_status(&self, application_id: Uuid) -> String {
        sqlx::query_scalar("SELECT status FROM applications WHERE id = $1")
            .bind(application_id)
            .fetch_one(&self.applications_pool)
            .await
            .expect("application stored")
    }

    /// A follower of process changes; start it before the action whose outcome it awaits.
    pub async fn watch_processes(&self) -> ProcessWatcher {
        let mut listener = PgListener::connect_with(&self.process_pool)
            .await
            .expect("listener");
        listener.listen("process_changed").await.expect("listening");
        ProcessWatcher {
            listener,
            pool: self.process_pool.clone(),
        }
    }

    /// How many times each step was recorded for the application.
    pub async fn step_count(&self, application_id: Uuid, step: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM process_steps WHERE application_id = $1 AND step = $2",
        )
        .bind(application_id)
        .bind(step)
        .fetch_one(&self.process_pool)
        .await
        .expect("steps readable")
    }

    /// The reservation's state, if any.
    pub async fn reservation_state(&self, application_id: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT state FROM reservations WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&self.process_pool)
            .await
            .expect("reservations readable")
    }

    /// What each month counts as used (the running total reservations check their limit
    /// against) is what its RESERVED and COMMITTED reservations add up to.
    pub async fn assert_budget_ledger_kept(&self) {
        let months: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT month.applicant, month.used_minor, \
                    COALESCE((SELECT sum(amount_minor) FROM reservations \
                              WHERE applicant = month.applicant AND month = month.month \
                                AND state <> 'RELEASED'), 0)::bigint \
             FROM budget_months AS month",
        )
        .fetch_all(&self.process_pool)
        .await
        .expect("budget months readable");
        assert!(!months.is_empty(), "some month was reserved against");
        for (applicant, used, summed) in months {
            assert_eq!(used, summed, "{applicant}'s running total");
        }
    }

    /// The next report job waiting in `reports.jobs` (no report-service runs in these tests).
    pub async fn next_report_job(&self) -> serde_json::Value {
        let (_connection, channel) = self.broker.channel().await.expect("broker reachable");
        let mut jobs = channel
            .basic_consume(
                zayavki_common::amqp::topology::REPORTS_JOBS.into(),
                "test".into(),
                lapin::options::BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("consuming report jobs");
        let delivery = tokio::time::timeout(PATIENCE, futures::StreamExt::next(&mut jobs))
            .await
            .expect("a report job arrives")
            .expect("the consumer is open")
            .expect("a delivery");
        serde_json::from_slice(&delivery.data).expect("a JSON job")
    }
}

/// Waits for processes to reach states, from `NOTIFY process_changed`.
pub struct ProcessWatcher {
    listener: PgListener,
    pool: PgPool,
}

impl ProcessWatcher {
    /// Waits until the process of `application_id` is in `state`.
    pub async fn wait_for(&mut self, application_id: Uuid, state: ProcessState) {
        let wanted = format!("{application_id} {}", state.as_str());
        let current: Option<String> =
            sqlx::query_scalar("SELECT state FROM processes WHERE application_id = $1")
                .bind(application_id)
                .fetch_optional(&self.pool)
                .await
                .expect("processes readable");
        if current.as_deref() == Some(state.as_str()) {
            return;
        }
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let notification = self.listener.recv().await.expect("notification");
                if notification.payload() == wanted {
                    return;
                }
            }
        })
        .await;
        if waited.is_err() {
            // Where it stopped, for whoever reads the failure.
            let stored: Option<(String, i32, Option<String>)> = sqlx::query_as(
                "SELECT state, attempts, last_error FROM processes WHERE application_id = $1",
            )
            .bind(application_id)
            .fetch_optional(&self.pool)
            .await
            .expect("processes readable");
            panic!("process {application_id} never became {state}; stored: {stored:?}");
        }
    }

    /// Waits until `count` processes are in `state`.
    pub async fn wait_for_count(&mut self, state: ProcessState, count: i64) {
        let counted = || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM processes WHERE state = $1")
                .bind(state.as_str())
                .fetch_one(&self.pool)
                .await
                .expect("processes readable")
        };
        tokio::time::timeout(PATIENCE, async {
            while counted().await < count {
                self.listener.recv().await.expect("notification");
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{count} processes never became {state}"));
    }
}
