//! `process.v1.BusinessProcessService` over a real gRPC connection: the API's server with token
//! authentication on a fresh database, and processes seeded in the states a test needs. No
//! driver runs, so a process stays in the state a decision leaves it in.

mod budgets;
mod decisions;
mod reading;
mod reports;

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tonic::{
    Code, Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Server, server::TcpIncoming},
};
use tonic_types::StatusExt;
use uuid::Uuid;
use zayavki_common::{
    database::{DatabaseSettings, ensure_database_exists, lazy_pool},
    money::Money,
    shutdown::CancellationToken,
};
use zayavki_identity::{GrpcAuthLayer, IdentityConfig, Role, TokenMinter, TokenVerifier};
use zayavki_proto::process::v1::{
    business_process_service_client::BusinessProcessServiceClient,
    business_process_service_server::BusinessProcessServiceServer,
};
use zayavki_testkit::{TestDatabase, init_test_logs};

use business_process::{
    domain::{Process, ProcessState},
    grpc::process::ProcessGrpc,
    service::{Processes, ServicePolicy},
    storage::{MIGRATOR, processes},
};

pub const DEFAULT_BUDGET: &str = "100000.00";

pub type Client = BusinessProcessServiceClient<InterceptedService<Channel, Bearer>>;

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

/// The API's gRPC server on a free port and a fresh database of its own.
pub struct ApiServer {
    pub pool: PgPool,
    minter: TokenMinter,
    channel: Channel,
    shutdown: CancellationToken,
    // Dropped last: the database outlives the server using it.
    _database: TestDatabase,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_api() -> ApiServer {
    init_test_logs();
    let database = TestDatabase::fresh();
    let settings = DatabaseSettings::new(database.url());
    ensure_database_exists(&settings)
        .await
        .expect("test database created");
    let pool = lazy_pool(&settings).expect("pool");
    MIGRATOR.run(&pool).await.expect("migrations applied");

    let (identity, _key) = IdentityConfig::development();
    let verifier = TokenVerifier::new(&identity).expect("verifier");
    let minter = TokenMinter::new(&identity).expect("minter");
    let processes = Processes::new(
        pool.clone(),
        ServicePolicy {
            default_monthly_budget: money(DEFAULT_BUDGET),
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
    let address = listener.local_addr().expect("bound");
    let shutdown = CancellationToken::new();
    let server = Server::builder()
        .layer(GrpcAuthLayer::new(verifier))
        .add_service(BusinessProcessServiceServer::new(ProcessGrpc::new(
            processes,
        )))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener),
            shutdown.clone().cancelled_owned(),
        );
    tokio::spawn(server);
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gRPC port accepts connections");
    ApiServer {
        pool,
        minter,
        channel,
        shutdown,
        _database: database,
    }
}

impl ApiServer {
    /// A client calling as `subject` with `roles` (none: a token that grants nothing).
    pub fn client(&self, subject: &str, roles: &[Role]) -> Client {
        let token = self
            .minter
            .mint(subject, Some(subject), roles, Duration::from_secs(3600))
            .expect("token minted");
        let bearer = Bearer(format!("Bearer {token}").parse().expect("ascii token"));
        BusinessProcessServiceClient::with_interceptor(self.channel.clone(), bearer)
    }

    pub fn applicant(&self, subject: &str) -> Client {
        self.client(subject, &[Role::Applicant])
    }

    pub fn operator(&self, subject: &str) -> Client {
        self.client(subject, &[Role::Operator])
    }

    pub fn service(&self) -> Client {
        self.client("report-service", &[Role::Service])
    }

    /// A client that sends no token at all.
    pub fn anonymous(&self) -> BusinessProcessServiceClient<Channel> {
        BusinessProcessServiceClient::new(self.channel.clone())
    }

    /// A process of `applicant` for `total`, filed now, stored in `state`.
    pub async fn seed(&self, applicant: &str, state: ProcessState, total: &str) -> Uuid {
        let now = Utc::now();
        let process = Process {
            application_id: Uuid::now_v7(),
            applicant: applicant.to_owned(),
            title: "Стулья офисные".to_owned(),
            total_amount: money(total),
            applied_at: now,
            state,
            reason: None,
            application_version: 2,
            version: 1,
            decision_due_at: None,
            purchase_report_id: None,
            created_at: now,
            updated_at: now,
            early_events: false,
        };
        let mut connection = self.pool.acquire().await.expect("connection");
        assert!(
            processes::insert_new(&mut connection, &process)
                .await
                .expect("process stored")
                .is_some(),
            "a fresh id is new"
        );
        process.application_id
    }

    /// Counts the rows `statement` (a `SELECT count(*)` with `$1` = `application_id`) finds.
    pub async fn count(&self, statement: &str, application_id: Uuid) -> i64 {
        sqlx::query_scalar(statement)
            .bind(application_id)
            .fetch_one(&self.pool)
            .await
            .expect("counted")
    }
}

pub fn money(amount: &str) -> Money {
    Money::parse_amount(amount).expect("a valid amount")
}

/// Asserts the status's code and returns the fields its `google.rpc.BadRequest` details name.
pub fn refused_with(status: &Status, code: Code) -> Vec<String> {
    assert_eq!(status.code(), code, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}
