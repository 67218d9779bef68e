//! application-service's gRPC throughput next to baselines measured in the same run, on the same
//! machine and database:
//!
//! 1. `BatchCreateApplications` against a plain binary `COPY` of the same rows into a table of
//!    the same shape, in chunks of the same size and with the same number in flight.
//! 2. `GetApplication` under a closed-loop load against the same primary-key SELECT straight
//!    through a sqlx pool of the service's size, and against a bare tonic server that answers a
//!    constant message.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin grpc_throughput -- --rows 5000 --seconds 2
//! ```

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use application_service::{
    domain::{Application, ApplicationStatus, NewApplication},
    grpc::convert,
    storage::{
        application_rows::{ApplicationRow, COLUMNS},
        binary_copy,
    },
};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use sqlx::{
    PgPool,
    postgres::{PgPoolCopyExt, PgPoolOptions},
};
use tokio::net::TcpListener;
use tonic::{
    Request, Response, Status,
    service::interceptor::InterceptedService,
    transport::{Channel, server::TcpIncoming},
};
use uuid::Uuid;
use zayavki_bench::{
    cpu::{CpuSample, CpuSeconds},
    drafts::DraftGenerator,
    idle::wait_until_idle,
    load::{LoadPlan, LoadReport, run_bounded},
    service::{Bearer, connect_channels, spawn_service},
};
use zayavki_common::shutdown::CancellationToken;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb,
    application_service_client::ApplicationServiceClient,
    application_service_server::{ApplicationService, ApplicationServiceServer},
};

type Client = ApplicationServiceClient<InterceptedService<Channel, Bearer>>;

const APPLICANT: &str = "bench-applicant";
/// The table the COPY baseline fills: `applications`' columns, defaults and indexes.
const BASELINE_TABLE: &str = "copy_baseline";
/// Neither create phase may run longer than this, whatever the row count.
const CREATE_PHASE_LIMIT: Duration = Duration::from_secs(15 * 60);
/// The longest wait for background work between phases.
const SETTLE_LIMIT: Duration = Duration::from_secs(5 * 60);
const BATCH_TARGET: f64 = 0.60;
const GET_TARGET: f64 = 0.60;

/// Every option also reads an environment variable, for runs from scripts.
#[derive(Parser, Debug)]
#[command(about = "gRPC throughput of application-service next to same-run baselines")]
struct Options {
    /// Applications to create, through gRPC and again through COPY.
    #[arg(long, env = "BENCH_ROWS", default_value_t = 100_000)]
    rows: usize,
    /// Applications per BatchCreateApplications call and per COPY chunk (at most 1,000).
    #[arg(long, env = "BENCH_BATCH_SIZE", default_value_t = 1_000)]
    batch_size: usize,
    /// Batches (and COPY chunks) in flight at once.
    #[arg(long, env = "BENCH_BATCH_CONCURRENCY", default_value_t = 2)]
    batch_concurrency: usize,
    /// Seconds of GetApplication load per measurement.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 10)]
    seconds: u64,
    /// Seconds of unmeasured load before each measurement (opens connections, warms caches).
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 1)]
    warmup_seconds: u64,
    /// Concurrent GetApplication callers, each with one request in flight.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the gRPC callers are spread over, round-robin.
    #[arg(long, env = "BENCH_CHANNELS", default_value_t = 4)]
    channels: usize,
    /// Upper bound on requests per measurement, whatever the duration.
    #[arg(long, env = "BENCH_MAX_REQUESTS", default_value_t = 5_000_000)]
    max_requests: u64,
    /// Seed of the generated drafts.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_121)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(
        (1..=1_000).contains(&options.batch_size),
        "--batch-size must be between 1 and 1000"
    );
    anyhow::ensure!(options.rows > 0, "--rows must be at least 1");

    let service = spawn_service(|_| {}).await?;
    let pool_size = service.settings.database.max_connections;
    let bearer = service.bearer(APPLICANT, &[Role::Applicant])?;
    let channels = service.grpc_channels(options.channels).await?;
    let clients: Vec<Client> = channels
        .into_iter()
        .map(|channel| ApplicationServiceClient::with_interceptor(channel, bearer.clone()))
        .collect();
    // The baselines get their own pool of the service's size on the same database.
    let baseline_pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .test_before_acquire(std::env::var_os("EXPERIMENT_NO_PING").is_none())
        .connect(service.database.url())
        .await
        .context("cannot connect the baseline pool")?;

    let drafts = DraftGenerator::new(options.seed).drafts(options.rows);
    let copy_rows = domain_rows(&drafts)?;

    eprintln!(
        "creating {} applications through gRPC in batches of {}…",
        options.rows, options.batch_size
    );
    checkpoint(&baseline_pool).await;
    let (grpc_create, ids) = batch_create(&clients, drafts, &options).await?;
    // The service indexes new applications for search in the background; the baseline must not
    // share the CPU with that.
    let indexing_tail = wait_until_idle(SETTLE_LIMIT).await;
    eprintln!("copying the same rows into {BASELINE_TABLE}…");
    checkpoint(&baseline_pool).await;
    let copy_create = copy_baseline(&baseline_pool, &copy_rows, &options).await?;
    verify_counts(&baseline_pool, options.rows).await?;
    drop(copy_rows);
    wait_until_idle(SETTLE_LIMIT).await;

    let uuids = ids
        .iter()
        .map(|id| Uuid::parse_str(id))
        .collect::<Result<Vec<_>, _>>()?;
    let constant = clients[0]
        .clone()
        .get_application(pb::GetApplicationRequest { id: ids[0].clone() })
        .await?
        .into_inner();
    let ids = Arc::new(ids);
    let uuids = Arc::new(uuids);

    eprintln!(
        "GetApplication: {} callers for {} s per measurement…",
        options.concurrency, options.seconds
    );
    let grpc_get = measure(
        &options,
        &baseline_pool,
        get_through_grpc(clients, Arc::clone(&ids)),
    )
    .await?;
    let sql_get = measure(
        &options,
        &baseline_pool,
        get_through_sql(baseline_pool.clone(), uuids),
    )
    .await?;
    let bare = BareServer::start(constant).await?;
    let bare_channels = connect_channels(bare.address, options.channels).await?;
    let bare_clients = bare_channels
        .into_iter()
        .map(|channel| ApplicationServiceClient::with_interceptor(channel, bearer.clone()))
        .collect();
    let bare_get = measure(
        &options,
        &baseline_pool,
        get_through_grpc(bare_clients, ids),
    )
    .await?;
    bare.stop();

    print_report(&Report {
        options: &options,
        pool_size,
        grpc_create,
        indexing_tail,
        copy_create,
        grpc_get: &grpc_get,
        sql_get: &sql_get,
        bare_get: &bare_get,
    });

    baseline_pool.close().await;
    service.stop().await
}

/// The same drafts as the service would store them, filed by the same applicant.
fn domain_rows(drafts: &[pb::NewApplication]) -> anyhow::Result<Vec<Application>> {
    let filed_at = chrono::Utc::now();
    drafts
        .iter()
        .map(|draft| {
            let parsed = NewApplication::parse(convert::new_application(draft.clone()))
                .map_err(|violations| anyhow::anyhow!("invalid draft: {violations:?}"))?;
            Ok(Application {
                id: Uuid::now_v7(),
                applicant: APPLICANT.to_owned(),
                title: parsed.title,
                description: parsed.description,
                items: parsed.items,
                total_amount: parsed.total_amount,
                status: ApplicationStatus::New,
                applied_at: filed_at,
                updated_at: filed_at,
                cancel_reason: None,
                cancelled_at: None,
                rejection_reason: None,
                version: 1,
            })
        })
        .collect()
}

/// Rows written and the wall time they took.
#[derive(Clone, Copy, Debug)]
struct Written {
    rows: usize,
    elapsed: Duration,
}

impl Written {
    fn rows_per_second(self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Files every draft through `BatchCreateApplications`; returns the ids in filing order.
async fn batch_create(
    clients: &[Client],
    drafts: Vec<pb::NewApplication>,
    options: &Options,
) -> anyhow::Result<(Written, Vec<String>)> {
    let mut requests = Vec::with_capacity(drafts.len().div_ceil(options.batch_size));
    let mut drafts = drafts.into_iter().peekable();
    while drafts.peek().is_some() {
        requests.push(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: drafts.by_ref().take(options.batch_size).collect(),
        });
    }
    let calls = requests.into_iter().enumerate().map(|(index, request)| {
        let mut client = clients[index % clients.len()].clone();
        async move {
            let response = client.batch_create_applications(request).await?;
            let ids: Vec<String> = response
                .into_inner()
                .applications
                .into_iter()
                .map(|application| application.id)
                .collect();
            anyhow::Ok(ids)
        }
    });
    let started = Instant::now();
    let created: Vec<Vec<String>> = tokio::time::timeout(
        CREATE_PHASE_LIMIT,
        futures::stream::iter(calls)
            .buffered(options.batch_concurrency.max(1))
            .try_collect(),
    )
    .await
    .context("batch creation took too long")??;
    let elapsed = started.elapsed();
    let ids: Vec<String> = created.into_iter().flatten().collect();
    Ok((
        Written {
            rows: ids.len(),
            elapsed,
        },
        ids,
    ))
}

/// Encodes and COPYs `rows` into a table shaped like `applications`, chunk by chunk.
async fn copy_baseline(
    pool: &PgPool,
    rows: &[Application],
    options: &Options,
) -> anyhow::Result<Written> {
    sqlx::query(&format!(
        "CREATE TABLE {BASELINE_TABLE} (LIKE applications INCLUDING ALL)"
    ))
    .execute(pool)
    .await?;
    let statement = binary_copy::COPY_STATEMENT.replacen(
        "COPY applications ",
        &format!("COPY {BASELINE_TABLE} "),
        1,
    );
    anyhow::ensure!(
        statement != binary_copy::COPY_STATEMENT,
        "the COPY statement no longer starts with `COPY applications`"
    );
    let statement = statement.as_str();
    let chunks = rows.chunks(options.batch_size).map(|chunk| async move {
        let encoded = binary_copy::encode(chunk)?;
        let mut copy = pool.copy_in_raw(statement).await?;
        copy.send(encoded).await?;
        let inserted = copy.finish().await?;
        anyhow::Ok(inserted)
    });
    let started = Instant::now();
    let inserted: Vec<u64> = tokio::time::timeout(
        CREATE_PHASE_LIMIT,
        futures::stream::iter(chunks)
            .buffered(options.batch_concurrency.max(1))
            .try_collect(),
    )
    .await
    .context("the COPY baseline took too long")??;
    let elapsed = started.elapsed();
    Ok(Written {
        rows: usize::try_from(inserted.iter().sum::<u64>())?,
        elapsed,
    })
}

/// Flushes dirty pages, so neither create phase pays for the other's checkpoint.
async fn checkpoint(pool: &PgPool) {
    if let Err(error) = sqlx::query("CHECKPOINT").execute(pool).await {
        eprintln!("CHECKPOINT skipped: {error}");
    }
}

async fn verify_counts(pool: &PgPool, rows: usize) -> anyhow::Result<()> {
    for table in ["applications", BASELINE_TABLE] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await?;
        anyhow::ensure!(
            usize::try_from(count)? == rows,
            "{table} holds {count} rows, expected {rows}"
        );
    }
    Ok(())
}

/// A GetApplication call through one of `clients` for a random id.
fn get_through_grpc(
    clients: Vec<Client>,
    ids: Arc<Vec<String>>,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<(), Status>>
+ Clone
+ Send
+ Sync
+ 'static {
    let clients = Arc::new(clients);
    move |caller| {
        let mut client = clients[caller % clients.len()].clone();
        let id = ids[rand::random_range(0..ids.len())].clone();
        Box::pin(async move {
            client
                .get_application(pb::GetApplicationRequest { id })
                .await
                .map(drop)
        })
    }
}

/// The service's primary-key SELECT for a random id, decoded into the service's row type.
fn get_through_sql(
    pool: PgPool,
    ids: Arc<Vec<Uuid>>,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, anyhow::Result<()>>
+ Clone
+ Send
+ Sync
+ 'static {
    let statement: Arc<str> = format!("SELECT {COLUMNS} FROM applications WHERE id = $1").into();
    move |_caller| {
        let pool = pool.clone();
        let statement = Arc::clone(&statement);
        let id = ids[rand::random_range(0..ids.len())];
        Box::pin(async move {
            let row: Option<ApplicationRow> = sqlx::query_as(&statement)
                .bind(id)
                .fetch_optional(&pool)
                .await?;
            row.map(drop).context("a created application is missing")
        })
    }
}

/// A load result with the CPU it cost.
struct Measured {
    load: LoadReport,
    cpu: CpuSeconds,
}

impl Measured {
    /// CPU microseconds per successful request in this process and in the PostgreSQL backends.
    fn cpu_per_request(&self) -> String {
        let per_request = |seconds: f64| seconds * 1e6 / (self.load.succeeded.max(1) as f64);
        match self.cpu.database {
            Some(database) => format!(
                "{:.0} + {:.0}",
                per_request(self.cpu.process),
                per_request(database)
            ),
            None => format!("{:.0}", per_request(self.cpu.process)),
        }
    }
}

/// A short unmeasured warm-up, then the measured load; `pool` finds the database's backends.
async fn measure<Call, Error>(
    options: &Options,
    pool: &PgPool,
    call: Call,
) -> anyhow::Result<Measured>
where
    Call: Fn(usize) -> futures::future::BoxFuture<'static, Result<(), Error>>
        + Clone
        + Send
        + Sync
        + 'static,
    Error: std::fmt::Display + 'static,
{
    if options.warmup_seconds > 0 {
        let warmup = LoadPlan::new(
            options.concurrency,
            Duration::from_secs(options.warmup_seconds),
        )
        .with_max_requests(options.max_requests);
        run_bounded(warmup, call.clone()).await?;
    }
    let plan = LoadPlan::new(options.concurrency, Duration::from_secs(options.seconds))
        .with_max_requests(options.max_requests);
    let before = CpuSample::take(pool).await;
    let load = run_bounded(plan, call).await?;
    let cpu = before.until(&CpuSample::take(pool).await);
    Ok(Measured { load, cpu })
}

/// A tonic server with nothing but GetApplication, answering one constant message: the floor
/// of what any tonic service can do on this machine.
struct BareServer {
    address: std::net::SocketAddr,
    shutdown: CancellationToken,
}

impl BareServer {
    async fn start(application: pb::Application) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let server = tonic::transport::Server::builder()
            .add_service(ApplicationServiceServer::new(ConstantApplication {
                application,
            }))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown.clone().cancelled_owned(),
            );
        tokio::spawn(async move {
            if let Err(error) = server.await {
                eprintln!("bare tonic server failed: {error}");
            }
        });
        Ok(Self { address, shutdown })
    }

    fn stop(self) {
        self.shutdown.cancel();
    }
}

struct ConstantApplication {
    application: pb::Application,
}

fn not_in_bench() -> Status {
    Status::unimplemented("the bare server answers GetApplication only")
}

#[tonic::async_trait]
impl ApplicationService for ConstantApplication {
    async fn create_application(
        &self,
        _request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        Err(not_in_bench())
    }

    async fn batch_create_applications(
        &self,
        _request: Request<pb::BatchCreateApplicationsRequest>,
    ) -> Result<Response<pb::BatchCreateApplicationsResponse>, Status> {
        Err(not_in_bench())
    }

    async fn cancel_application(
        &self,
        _request: Request<pb::CancelApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        Err(not_in_bench())
    }

    async fn get_application(
        &self,
        _request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        Ok(Response::new(self.application.clone()))
    }

    async fn list_applications(
        &self,
        _request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        Err(not_in_bench())
    }

    async fn search_applications(
        &self,
        _request: Request<pb::SearchApplicationsRequest>,
    ) -> Result<Response<pb::SearchApplicationsResponse>, Status> {
        Err(not_in_bench())
    }
}

struct Report<'a> {
    options: &'a Options,
    pool_size: u32,
    grpc_create: Written,
    indexing_tail: Duration,
    copy_create: Written,
    grpc_get: &'a Measured,
    sql_get: &'a Measured,
    bare_get: &'a Measured,
}

fn print_report(report: &Report<'_>) {
    let options = report.options;
    println!();
    println!(
        "1. Batch create: {} rows in chunks of {}, {} chunk(s) in flight",
        options.rows, options.batch_size, options.batch_concurrency
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>11}",
        "path", "rows", "seconds", "rows/s"
    );
    for (name, written) in [
        ("gRPC BatchCreateApplications", report.grpc_create),
        (
            "binary COPY, same rows and chunks (baseline)",
            report.copy_create,
        ),
    ] {
        println!(
            "   {:<44} {:>9} {:>9.2} {:>11.0}",
            name,
            written.rows,
            written.elapsed.as_secs_f64(),
            written.rows_per_second()
        );
    }
    println!(
        "   (search indexing of the new rows went on {:.1} s after the last answer; the COPY \
         started after it)",
        report.indexing_tail.as_secs_f64()
    );
    let create_ratio = report.grpc_create.rows_per_second() / report.copy_create.rows_per_second();
    println!(
        "   gRPC / COPY: {:.0}% (target ≥ {:.0}%: {})",
        create_ratio * 100.0,
        BATCH_TARGET * 100.0,
        verdict(create_ratio, BATCH_TARGET)
    );
    println!();
    println!(
        "2. GetApplication: {} callers, {} s each, random ids among {}; gRPC over {} HTTP/2 connections; sql pool of {}",
        options.concurrency, options.seconds, options.rows, options.channels, report.pool_size
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>9} {:>9} {:>7}  {}",
        "path", "requests", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/req (process + postgres)"
    );
    for (name, measured) in [
        ("gRPC GetApplication (auth, DB, convert)", report.grpc_get),
        ("straight SQL, same SELECT (baseline a)", report.sql_get),
        ("bare tonic, constant message (baseline b)", report.bare_get),
    ] {
        let load = &measured.load;
        println!(
            "   {:<44} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>7}  {}",
            name,
            load.succeeded,
            load.throughput(),
            millis(load.latency.p50()),
            millis(load.latency.p99()),
            load.failed,
            measured.cpu_per_request()
        );
        if let Some(error) = &load.first_error {
            println!("     first error: {error}");
        }
    }
    let sql_ratio = report.grpc_get.load.throughput() / report.sql_get.load.throughput();
    let bare_ratio = report.grpc_get.load.throughput() / report.bare_get.load.throughput();
    println!(
        "   gRPC / straight SQL: {:.0}% (target ≥ {:.0}%: {})",
        sql_ratio * 100.0,
        GET_TARGET * 100.0,
        verdict(sql_ratio, GET_TARGET)
    );
    println!("   gRPC / bare tonic:   {:.0}%", bare_ratio * 100.0);
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target { "met" } else { "MISSED" }
}
