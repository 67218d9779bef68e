//! The system a report test needs, in-process on free loopback ports: application-service and
//! report-service on fresh databases, a RabbitMQ virtual host of their own, a directory for the
//! report files, and clients authenticated as chosen users.

use std::{path::PathBuf, sync::Arc, time::Duration};

use application_service::{
    config::Settings as ApplicationSettings, startup::Application as ApplicationService,
};
use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use report_service::{config::Settings, startup::Application};
use sqlx::{PgPool, postgres::PgListener};
use tokio::task::JoinHandle;
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use uuid::Uuid;
use zayavki_common::{
    amqp::{declare_topology, topology},
    outbox::RelaySettings,
    shutdown::CancellationToken,
};
use zayavki_identity::{IdentityConfig, Role, TokenMinter};
use zayavki_proto::applications::v1::{
    self as applications, application_lifecycle_client::ApplicationLifecycleClient,
    application_service_client::ApplicationServiceClient,
};
use zayavki_testkit::{TestBroker, TestDatabase, init_test_logs};

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
/// Long enough for a loaded machine; tests end as soon as what they wait for happens.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub type ApplicationsClient = ApplicationServiceClient<InterceptedService<Channel, Bearer>>;

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

pub fn identity() -> IdentityConfig {
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

/// report-service running in this process.
struct RunningReports {
    running: Running,
    address: std::net::SocketAddr,
}

/// application-service, report-service and what they need.
pub struct TestSystem {
    pub reports_pool: PgPool,
    pub applications_pool: PgPool,
    /// Settings report-service starts with (again) in [`TestSystem::start_report_service`].
    pub settings: Settings,
    pub http: reqwest::Client,
    pub applications_address: std::net::SocketAddr,
    minter: TokenMinter,
    applications_channel: Channel,
    reports: Option<RunningReports>,
    _application_service: Running,
    // Dropped last: the files, databases and the virtual host outlive the services using them.
    pub files: tempfile::TempDir,
    pub broker: Arc<TestBroker>,
    pub reports_database: TestDatabase,
    _applications_database: TestDatabase,
}

/// Starts everything with the defaults of `Settings::for_tests`, adjusted by `configure`.
pub async fn spawn_system(configure: impl FnOnce(&mut Settings)) -> TestSystem {
    let mut system = spawn_without_reports(configure).await;
    system.start_report_service().await;
    system
}

/// application-service and the broker, databases and settings, with report-service not started.
pub async fn spawn_without_reports(configure: impl FnOnce(&mut Settings)) -> TestSystem {
    init_test_logs();
    let broker = Arc::new(TestBroker::fresh().await.expect("test vhost"));
    let applications_database = TestDatabase::fresh();
    let mut application_settings = ApplicationSettings::for_database(applications_database.url());
    application_settings.identity = identity();
    let mut relay = RelaySettings::new(broker.settings(), "application-service");
    relay.leader_retry = Duration::from_millis(100);
    relay.max_backoff = Duration::from_millis(500);
    application_settings.events = Some(relay);
    let application_service = ApplicationService::build(application_settings)
        .await
        .expect("application-service starts");
    let applications_address = application_service.grpc_address();
    let applications_pool = application_service.pool().clone();
    let applications_shutdown = CancellationToken::new();
    let applications_task =
        tokio::spawn(application_service.run_until_stopped(applications_shutdown.clone()));

    let files = tempfile::tempdir().expect("a directory for report files");
    let reports_database = TestDatabase::fresh();
    let mut settings = Settings::for_tests(
        reports_database.url(),
        &format!("http://{applications_address}"),
        broker.settings(),
        files.path().to_owned(),
    );
    settings.identity = identity();
    configure(&mut settings);
    let minter = TokenMinter::new(&settings.identity).expect("test tokens can be minted");
    let applications_channel = connect(&format!("http://{applications_address}")).await;
    declare_topology_in(&broker).await;
    // The database exists from the start, so that tests can watch it before any report-service
    // (in this process or a child) runs.
    zayavki_common::database::ensure_database_exists(&settings.database)
        .await
        .expect("the reports database is created");
    let reports_pool = PgPool::connect_lazy(reports_database.url()).expect("pool");
    report_service::storage::MIGRATOR
        .run(&reports_pool)
        .await
        .expect("migrations applied");
    TestSystem {
        reports_pool,
        applications_pool,
        settings,
        http: reqwest::Client::new(),
        applications_address,
        minter,
        applications_channel,
        reports: None,
        _application_service: Running {
            shutdown: applications_shutdown,
            task: Some(applications_task),
        },
        files,
        broker,
        reports_database,
        _applications_database: applications_database,
    }
}

async fn declare_topology_in(broker: &TestBroker) {
    let (connection, channel) = broker.channel().await.expect("broker reachable");
    declare_topology(&channel).await.expect("topology declared");
    connection.close(0, "declared".into()).await.ok();
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
    /// Starts report-service (again) on the same database, with `self.settings`.
    pub async fn start_report_service(&mut self) {
        let application = Application::build(self.settings.clone())
            .await
            .expect("report-service starts");
        let address = application.http_address();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(application.run_until_stopped(shutdown.clone()));
        self.reports = Some(RunningReports {
            running: Running {
                shutdown,
                task: Some(task),
            },
            address,
        });
    }

    /// Stops report-service cleanly.
    pub async fn stop_report_service(&mut self) {
        if let Some(mut reports) = self.reports.take() {
            reports.running.stop().await;
        }
    }

    /// `http://127.0.0.1:<port><path>` of the running report-service.
    pub fn url(&self, path: &str) -> String {
        let address = self.reports.as_ref().expect("report-service runs").address;
        format!("http://{address}{path}")
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

    /// `GET path` on report-service as `subject` with `roles`.
    pub async fn get_as(&self, path: &str, subject: &str, roles: &[Role]) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(self.token(subject, roles))
            .send()
            .await
            .expect("report-service answers")
    }

    /// The body of `GET /reports/{id}/download` as `subject`, after checking it succeeded.
    pub async fn download(&self, report_id: Uuid, subject: &str, roles: &[Role]) -> Vec<u8> {
        let response = self
            .get_as(&format!("/reports/{report_id}/download"), subject, roles)
            .await;
        assert_eq!(
            response.status(),
            reqwest::StatusCode::OK,
            "download answered"
        );
        response.bytes().await.expect("a body").to_vec()
    }

    /// Publishes `job` and waits until its report is COMPLETED.
    pub async fn build(&self, job: &serde_json::Value) -> Uuid {
        let report_id: Uuid = job["reportId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("the job names its report");
        self.publish_job(job).await;
        self.wait_for_status(report_id, "COMPLETED").await;
        report_id
    }

    /// Files an application for `applicant` with `items` (name, quantity, unit price).
    pub async fn file(&self, applicant: &str, title: &str, items: &[(&str, i32, &str)]) -> Uuid {
        let filed = self
            .applicant(applicant)
            .create_application(applications::CreateApplicationRequest {
                request_id: String::new(),
                application: Some(applications::NewApplication {
                    title: title.to_owned(),
                    description: None,
                    items: items
                        .iter()
                        .map(
                            |(name, quantity, unit_price)| applications::ApplicationItem {
                                name: (*name).to_owned(),
                                quantity: *quantity,
                                unit_price: (*unit_price).to_owned(),
                            },
                        )
                        .collect(),
                }),
            })
            .await
            .expect("application filed")
            .into_inner();
        filed.id.parse().expect("a UUID")
    }

    /// Moves the application NEW → PROCESSING → COMPLETED, as business-process would.
    pub async fn complete(&self, application_id: Uuid) {
        let mut lifecycle = ApplicationLifecycleClient::with_interceptor(
            self.applications_channel.clone(),
            self.bearer("business-process", &[Role::Service]),
        );
        let request = || applications::TransitionRequest {
            id: application_id.to_string(),
            expected_version: None,
            reason: None,
        };
        lifecycle
            .start_processing(request())
            .await
            .expect("processing");
        lifecycle
            .complete_application(request())
            .await
            .expect("completed");
    }

    /// Publishes `job` to exchange `reports` with key `report.job`, as business-process does,
    /// and waits for the broker's confirm.
    pub async fn publish_job(&self, job: &serde_json::Value) {
        self.publish_jobs(std::slice::from_ref(job)).await;
    }

    /// Publishes every job on one confirm channel.
    pub async fn publish_jobs(&self, jobs: &[serde_json::Value]) {
        let (connection, channel) = self.broker.channel().await.expect("broker reachable");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        for job in jobs {
            let message_id = job["reportId"].as_str().unwrap_or_default().to_owned();
            let confirm = channel
                .basic_publish(
                    ShortString::from(topology::REPORTS),
                    ShortString::from(topology::REPORT_JOB_KEY),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &serde_json::to_vec(job).expect("JSON"),
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_message_id(ShortString::from(message_id))
                        .with_type(ShortString::from(topology::REPORT_JOB_KEY))
                        .with_content_type(ShortString::from("application/json"))
                        .with_app_id(ShortString::from("business-process")),
                )
                .await
                .expect("published")
                .await
                .expect("confirmed");
            assert!(confirm.is_ack(), "the broker took the job");
        }
        connection.close(0, "published".into()).await.ok();
    }

    /// Waits until report `report_id` is `status` (woken by the event log's NOTIFY).
    pub async fn wait_for_status(&self, report_id: Uuid, status: &str) {
        let mut listener = PgListener::connect_with(&self.reports_pool)
            .await
            .expect("listener");
        listener.listen("event_log").await.expect("listening");
        tokio::time::timeout(PATIENCE, async {
            loop {
                let current = self.status(report_id).await;
                if current.as_deref() == Some(status) {
                    return;
                }
                if matches!(current.as_deref(), Some("COMPLETED" | "FAILED")) {
                    let error: Option<String> =
                        sqlx::query_scalar("SELECT error FROM reports WHERE id = $1")
                            .bind(report_id)
                            .fetch_one(&self.reports_pool)
                            .await
                            .expect("reports readable");
                    panic!("report {report_id} is {current:?}, not {status}: {error:?}");
                }
                // The claim itself appends nothing, so RUNNING is also looked for every 100 ms.
                tokio::time::timeout(Duration::from_millis(100), listener.recv())
                    .await
                    .ok();
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!("report {report_id} never became {status}");
        });
    }

    /// The report's status, if report-service knows it.
    pub async fn status(&self, report_id: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM reports WHERE id = $1")
            .bind(report_id)
            .fetch_optional(&self.reports_pool)
            .await
            .expect("reports readable")
    }

    /// Where the local store keeps report files.
    pub fn storage_dir(&self) -> PathBuf {
        self.files.path().join("reports")
    }
}

/// Waits until `count` reports are COMPLETED or FAILED (woken by the event log's NOTIFY).
pub async fn wait_for_finished(pool: &PgPool, count: i64) {
    let mut listener = PgListener::connect_with(pool).await.expect("listener");
    listener.listen("event_log").await.expect("listening");
    let finished = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM reports WHERE status IN ('COMPLETED', 'FAILED')",
        )
        .fetch_one(pool)
        .await
        .expect("reports readable")
    };
    tokio::time::timeout(PATIENCE, async {
        while finished().await < count {
            tokio::time::timeout(Duration::from_secs(1), listener.recv())
                .await
                .ok();
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} reports never finished"));
}

/// How many events of `kind` the log holds for the report.
pub async fn logged_events(pool: &PgPool, report_id: Uuid, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event_log WHERE type = $1 AND body->>'reportId' = $2")
        .bind(kind)
        .bind(report_id.to_string())
        .fetch_one(pool)
        .await
        .expect("event log readable")
}

/// How many `reports.events` messages of `kind` the outbox holds for the report.
pub async fn outbox_events(pool: &PgPool, report_id: Uuid, kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE routing_key = $1 AND body::jsonb->>'reportId' = $2",
    )
    .bind(kind)
    .bind(report_id.to_string())
    .fetch_one(pool)
    .await
    .expect("outbox readable")
}

/// Files `count` applications for `applicant` straight into application-service's table, each
/// with one item of 2 × 10.25, filed a second apart.
pub async fn insert_applications(pool: &PgPool, applicant: &str, count: i64) {
    sqlx::query(
        "INSERT INTO applications (id, applicant, title, items, total_amount_minor, status, \
         applied_at, updated_at) \
         SELECT gen_random_uuid(), $1, 'Заявка № ' || n, \
         '[{\"name\": \"Бумага\", \"quantity\": 2, \"unit_price\": \"10.25\"}]'::jsonb, \
         2050, 'NEW', now() - n * interval '1 second', now() - n * interval '1 second' \
         FROM generate_series(1, $2) AS n",
    )
    .bind(applicant)
    .bind(count)
    .execute(pool)
    .await
    .expect("applications inserted");
}

/// The next message in `queue`, waiting for it.
pub async fn next_message(broker: &TestBroker, queue: &str) -> lapin::message::Delivery {
    let (_connection, channel) = broker.channel().await.expect("broker reachable");
    let mut messages = channel
        .basic_consume(
            queue.into(),
            "test".into(),
            lapin::options::BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("consuming");
    tokio::time::timeout(PATIENCE, futures::StreamExt::next(&mut messages))
        .await
        .unwrap_or_else(|_| panic!("nothing arrived in {queue}"))
        .expect("the consumer is open")
        .expect("a delivery")
}

/// A header of `delivery` as text.
pub fn header_text(delivery: &lapin::message::Delivery, name: &str) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(name)? {
        lapin::types::AMQPValue::LongString(text) => Some(text.to_string()),
        lapin::types::AMQPValue::LongInt(number) => Some(number.to_string()),
        lapin::types::AMQPValue::LongLongInt(number) => Some(number.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// A summary job for `owner` (role `owner_role`) in `format`, with a fresh report id.
pub fn summary_job(owner: &str, owner_role: &str, format: &str) -> serde_json::Value {
    serde_json::json!({
        "reportId": Uuid::now_v7(),
        "kind": "APPLICATIONS_SUMMARY",
        "format": format,
        "owner": owner,
        "ownerRole": owner_role,
        "requestedAt": chrono::Utc::now(),
    })
}

/// A purchase report job for one completed application, with a short history.
pub fn purchase_job(owner: &str, application_id: Uuid, format: &str) -> serde_json::Value {
    serde_json::json!({
        "reportId": Uuid::now_v7(),
        "kind": "PURCHASE",
        "format": format,
        "owner": owner,
        "ownerRole": "applicant",
        "applicationId": application_id,
        "history": [
            {"step": "process.started", "at": "2026-12-01T09:00:00Z", "details": {}},
            {"step": "budget.reserved", "at": "2026-12-01T09:00:01Z",
             "details": {"amount": "125.50", "month": "2026-12"}},
            {"step": "process.approved", "at": "2026-12-01T09:00:02Z",
             "details": {"by": "автоматически"}},
        ],
        "requestedAt": chrono::Utc::now(),
    })
}
