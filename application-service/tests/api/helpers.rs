//! `spawn_app()` and clients authenticated as a chosen user.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use application_service::{config::Settings, startup::Application};
use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};
use tonic::{
    Code, Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use tonic_types::StatusExt;
use zayavki_common::{
    amqp::AmqpSettings,
    outbox::{RelaySettings, RelayStats},
    shutdown::CancellationToken,
};
use zayavki_identity::{IdentityConfig, Role, ThrottleConfig, TokenMinter};
use zayavki_proto::applications::v1::{
    self as pb, application_export_client::ApplicationExportClient,
    application_lifecycle_client::ApplicationLifecycleClient,
    application_service_client::ApplicationServiceClient,
};
use zayavki_testkit::{TestBroker, TestDatabase, init_test_logs};

pub type ApplicationsClient = ApplicationServiceClient<InterceptedService<Channel, Bearer>>;
pub type LifecycleClient = ApplicationLifecycleClient<InterceptedService<Channel, Bearer>>;
pub type ExportClient = ApplicationExportClient<InterceptedService<Channel, Bearer>>;

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

pub struct TestApp {
    pub grpc_address: SocketAddr,
    pub http_address: SocketAddr,
    pub pool: PgPool,
    pub minter: TokenMinter,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    channel: Channel,
    owned_index_dir: Option<std::path::PathBuf>,
    /// What the outbox relay has done, when the test gave the app a broker.
    pub relay_stats: Option<watch::Receiver<RelayStats>>,
    // Dropped last: the database outlives the servers using it.
    database: Arc<TestDatabase>,
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(Arc::new(TestDatabase::fresh()), configure).await
}

/// A service that publishes its events to `broker`, with short retry intervals.
pub async fn spawn_app_publishing_to(broker: &TestBroker) -> TestApp {
    spawn_app_with(|settings| settings.events = Some(test_relay_settings(broker.settings()))).await
}

/// The relay's settings for tests: a standby asks for the lock often, failures retry soon.
pub fn test_relay_settings(amqp: AmqpSettings) -> RelaySettings {
    let mut relay = application_service::config::relay_settings(amqp);
    relay.leader_retry = Duration::from_millis(100);
    relay.max_backoff = Duration::from_millis(500);
    relay.confirm_timeout = Duration::from_secs(5);
    relay
}

/// Another replica on the database of `other`.
pub async fn spawn_replica_of(other: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(other.database.clone(), configure).await
}

async fn connect(grpc_address: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{grpc_address}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gRPC port accepts connections")
}

async fn spawn_app_on(
    database: Arc<TestDatabase>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    init_test_logs();
    let mut settings = Settings::for_database(database.url());
    settings.identity = IdentityConfig::development().0.with_secret(TEST_SECRET);
    settings.throttle = ThrottleConfig::disabled();
    let generated_index_dir = settings.search_index_dir.clone();
    configure(&mut settings);
    // The generated index directory belongs to this app alone; one a test chose outlives it.
    let owned_index_dir =
        (settings.search_index_dir == generated_index_dir).then_some(generated_index_dir);
    let minter = TokenMinter::new(&settings.identity).expect("test tokens can be minted");
    let application = Application::build(settings)
        .await
        .expect("the service starts");
    let grpc_address = application.grpc_address();
    let http_address = application.http_address();
    let pool = application.pool().clone();
    let relay_stats = application.relay_stats();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(application.run_until_stopped(shutdown.clone()));
    let channel = connect(grpc_address).await;
    TestApp {
        grpc_address,
        http_address,
        pool,
        minter,
        shutdown,
        server: Some(server),
        channel,
        owned_index_dir,
        relay_stats,
        database,
    }
}

impl TestApp {
    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.minter
            .mint(subject, Some(subject), roles, Duration::from_secs(600))
            .expect("token minted")
    }

    fn bearer(&self, subject: &str, roles: &[Role]) -> Bearer {
        let value = format!("Bearer {}", self.token(subject, roles));
        Bearer(Some(value.parse().expect("ascii token")))
    }

    /// A client for the public API as an applicant called `subject`.
    pub fn applicant(&self, subject: &str) -> ApplicationsClient {
        ApplicationServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer(subject, &[Role::Applicant]),
        )
    }

    pub fn operator(&self, subject: &str) -> ApplicationsClient {
        ApplicationServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer(subject, &[Role::Operator]),
        )
    }

    pub fn anonymous(&self) -> ApplicationsClient {
        ApplicationServiceClient::with_interceptor(self.channel.clone(), Bearer(None))
    }

    /// The internal lifecycle API as the business process.
    pub fn lifecycle(&self) -> LifecycleClient {
        ApplicationLifecycleClient::with_interceptor(
            self.channel.clone(),
            self.bearer("business-process", &[Role::Service]),
        )
    }

    /// The export API as `subject` with `roles`.
    pub fn exporter(&self, subject: &str, roles: &[Role]) -> ExportClient {
        ApplicationExportClient::with_interceptor(self.channel.clone(), self.bearer(subject, roles))
    }

    /// The export API as `subject` with `roles`, on an HTTP/2 connection of its own: its
    /// answers never wait for flow-control credit that another call's unread stream holds.
    pub async fn exporter_on_own_connection(&self, subject: &str, roles: &[Role]) -> ExportClient {
        ApplicationExportClient::with_interceptor(
            connect(self.grpc_address).await,
            self.bearer(subject, roles),
        )
    }

    pub fn anonymous_exporter(&self) -> ExportClient {
        ApplicationExportClient::with_interceptor(self.channel.clone(), Bearer(None))
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(15), server)
                .await
                .expect("server stops within the grace period")
                .expect("server task completes")
                .expect("server ends cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(directory) = self.owned_index_dir.take() {
            // Best effort: a server still shutting down may hold files for a moment.
            drop(std::fs::remove_dir_all(directory));
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

pub fn item(name: &str, quantity: i32, unit_price: &str) -> pb::ApplicationItem {
    pb::ApplicationItem {
        name: name.to_owned(),
        quantity,
        unit_price: unit_price.to_owned(),
    }
}

pub fn draft(title: &str) -> pb::NewApplication {
    pb::NewApplication {
        title: title.to_owned(),
        description: Some("Для столовой на втором этаже".to_owned()),
        items: vec![item("Ложки чайные", 12, "35.50"), item("Вилки", 6, "40")],
    }
}

pub fn create_request(title: &str) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        request_id: String::new(),
        application: Some(draft(title)),
    }
}

pub async fn create(client: &mut ApplicationsClient, title: &str) -> pb::Application {
    client
        .create_application(create_request(title))
        .await
        .expect("application created")
        .into_inner()
}

/// Cancels the application `id` without a reason.
pub async fn cancel(client: &mut ApplicationsClient, id: &str) -> pb::Application {
    client
        .cancel_application(pb::CancelApplicationRequest {
            id: id.to_owned(),
            reason: None,
        })
        .await
        .expect("application cancelled")
        .into_inner()
}

/// The field paths named in a status's `google.rpc.BadRequest` details.
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default()
}

pub fn assert_code(status: &Status, code: Code) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
}

pub async fn count_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM applications")
        .fetch_one(pool)
        .await
        .expect("count")
}
