//! application-service's gRPC throughput next to baselines measured in the same run, on the same
//! machine and database:
//!
//! 1. `BatchCreateApplications` against a plain binary `COPY` of the same rows into a table of
//!    the same shape, in chunks of the same size and with the same number in flight.
//! 2. `GetApplication` under a closed-loop load against the same primary-key SELECT straight
//!    through a sqlx pool built like the service's, against a bare tonic server that answers a
//!    constant message, and against that server running the same SELECT first (which shows
//!    what the service's own code adds).
//!
//! The paths take turns, so load from elsewhere on the machine falls on all of them alike, and
//! each line shows the CPU it cost per row or request next to its throughput.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin grpc_throughput -- --rows 5000 --seconds 2
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use application_service::{
    domain::{Application, NewApplication},
    grpc::convert,
    storage::{
        application_rows::{ApplicationRow, COLUMNS},
        binary_copy,
    },
};
use clap::Parser;
use futures::{StreamExt, TryStreamExt, future::BoxFuture};
use sqlx::{PgPool, postgres::PgPoolCopyExt};
use uuid::Uuid;
use zayavki_bench::{
    bare_server::BareServer,
    cpu::{CpuSample, CpuSeconds},
    drafts::DraftGenerator,
    idle::wait_until_idle,
    load::{LoadPlan, LoadReport, run_bounded},
    service::{Bearer, BearerClient, spawn_service},
};
use zayavki_common::database::lazy_pool;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

type Client = BearerClient;

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
    /// Seconds of GetApplication load per path.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 10)]
    seconds: u64,
    /// Turns the measured paths take, one after the other, so that load from elsewhere on the
    /// machine falls on all of them alike.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 5)]
    rounds: u32,
    /// Seconds of unmeasured load per path before measuring (opens connections, warms caches).
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 1)]
    warmup_seconds: u64,
    /// Concurrent GetApplication callers, each with one request in flight.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the gRPC callers are spread over, round-robin.
    #[arg(long, env = "BENCH_CHANNELS", default_value_t = 4)]
    channels: usize,
    /// Connections in the service's pool (and so in the baseline's); the service's default
    /// when not given.
    #[arg(long, env = "BENCH_POOL_SIZE")]
    pool_size: Option<u32>,
    /// Reads by id the service runs at once (`DATABASE_READ_QUERIES`); the service's default
    /// when not given.
    #[arg(long, env = "BENCH_READ_QUERIES")]
    read_queries: Option<usize>,
    /// Upper bound on requests per path, whatever the duration.
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

    let service = spawn_service(|settings| {
        if let Some(pool_size) = options.pool_size {
            settings.database.max_connections = pool_size;
        }
        if let Some(read_queries) = options.read_queries {
            settings.read_queries = read_queries;
        }
    })
    .await?;
    let pool_size = service.settings.database.max_connections;
    let bearer = service.bearer(APPLICANT, &[Role::Applicant])?;
    let clients: Vec<Client> = service
        .grpc_channels(options.channels)
        .await?
        .into_iter()
        .map(|channel| ApplicationServiceClient::with_interceptor(channel, bearer.clone()))
        .collect();
    // The baselines get their own pool, built exactly as the service builds its own.
    let baseline_pool = lazy_pool(&service.settings.database)?;
    // Both pools open their connections now, so the CPU samples see every backend.
    warm_service_pool(&clients, pool_size).await;
    warm_pool(&baseline_pool, pool_size).await?;

    let (creates, ids) = compare_creates(&clients, &baseline_pool, &options).await?;
    let reads = compare_reads(&clients, &bearer, &baseline_pool, ids, &options).await?;
    print_report(&options, pool_size, &creates, &reads);

    baseline_pool.close().await;
    service.stop().await
}

/// Section 1 of the report.
#[derive(Default)]
struct Creates {
    grpc: Written,
    /// How long the waits for search indexing after the gRPC turns took, and what it cost.
    indexing_tail: Duration,
    indexing_cpu: CpuSeconds,
    copy: Written,
}

/// Section 2 of the report.
struct Reads {
    grpc: Measured,
    sql: Measured,
    bare: Measured,
    bare_select: Measured,
}

/// Files `--rows` drafts through gRPC and COPYs the same rows, in turns of whole batches;
/// returns the ids filed.
async fn compare_creates(
    clients: &[Client],
    pool: &PgPool,
    options: &Options,
) -> anyhow::Result<(Creates, Vec<String>)> {
    let drafts = DraftGenerator::new(options.seed).drafts(options.rows);
    let copy_rows = domain_rows(&drafts)?;
    let statement = create_baseline_table(pool).await?;
    let rounds = usize::try_from(options.rounds.max(1))?;
    let rows_per_turn =
        options.rows.div_ceil(options.batch_size).div_ceil(rounds) * options.batch_size;

    eprintln!(
        "creating {} applications through gRPC and through COPY in batches of {}, {} turns…",
        options.rows, options.batch_size, rounds
    );
    let mut creates = Creates::default();
    let mut ids = Vec::with_capacity(options.rows);
    let mut drafts = drafts.into_iter();
    for copy_turn in copy_rows.chunks(rows_per_turn) {
        let grpc_turn: Vec<_> = drafts.by_ref().take(copy_turn.len()).collect();
        checkpoint(pool).await;
        let before = CpuSample::take(pool).await;
        let (grpc, filed) = batch_create(clients, grpc_turn, options).await?;
        let created = CpuSample::take(pool).await;
        creates.grpc.absorb(grpc, before.until(&created));
        ids.extend(filed);
        // The service indexes new applications for search in the background; the baseline
        // must not share the CPU with that.
        creates.indexing_tail += wait_until_idle(SETTLE_LIMIT).await;
        creates.indexing_cpu += created.until(&CpuSample::take(pool).await);

        checkpoint(pool).await;
        let before = CpuSample::take(pool).await;
        let copy = copy_baseline(pool, &statement, copy_turn, options).await?;
        creates
            .copy
            .absorb(copy, before.until(&CpuSample::take(pool).await));
        wait_until_idle(SETTLE_LIMIT).await;
    }
    verify_counts(pool, options.rows).await?;
    Ok((creates, ids))
}

/// GetApplication through the service, the same SELECT through sqlx, and bare tonic servers,
/// measured in turns so that whatever else the machine does falls on all of them alike.
async fn compare_reads(
    clients: &[Client],
    bearer: &Bearer,
    pool: &PgPool,
    ids: Vec<String>,
    options: &Options,
) -> anyhow::Result<Reads> {
    let uuids = ids
        .iter()
        .map(|id| Uuid::parse_str(id))
        .collect::<Result<Vec<_>, _>>()?;
    // The bare servers answer with a real application, so every path sends the same bytes.
    let constant = clients[0]
        .clone()
        .get_application(pb::GetApplicationRequest { id: ids[0].clone() })
        .await?
        .into_inner();
    let ids = Arc::new(ids);
    let bare_server = BareServer::start(constant.clone(), None).await?;
    let select_server = BareServer::start(constant, Some(pool.clone())).await?;
    let bare_clients = bare_server.clients(options.channels, bearer).await?;
    let select_clients = select_server.clients(options.channels, bearer).await?;

    eprintln!(
        "GetApplication: {} callers, {} s per path in {} turns…",
        options.concurrency, options.seconds, options.rounds
    );
    let paths = [
        get_through_grpc(clients.to_vec(), Arc::clone(&ids)),
        get_through_sql(pool.clone(), Arc::new(uuids)),
        get_through_grpc(bare_clients, Arc::clone(&ids)),
        get_through_grpc(select_clients, ids),
    ];
    let measured = measure_in_turns(options, pool, &paths).await;
    bare_server.stop();
    select_server.stop();
    let [grpc, sql, bare, bare_select] =
        <[Measured; 4]>::try_from(measured?).map_err(|_| anyhow::anyhow!("one result per path"))?;
    Ok(Reads {
        grpc,
        sql,
        bare,
        bare_select,
    })
}

/// The same drafts as the service would store them, filed by the same applicant.
fn domain_rows(drafts: &[pb::NewApplication]) -> anyhow::Result<Vec<Application>> {
    let filed_at = chrono::Utc::now();
    drafts
        .iter()
        .map(|draft| {
            let parsed = NewApplication::parse(convert::new_application(draft.clone()))
                .map_err(|violations| anyhow::anyhow!("invalid draft: {violations:?}"))?;
            Ok(Application::filed(APPLICANT, parsed, filed_at))
        })
        .collect()
}

/// Rows written, the wall time they took and the CPU they cost.
#[derive(Clone, Copy, Debug, Default)]
struct Written {
    rows: usize,
    elapsed: Duration,
    cpu: CpuSeconds,
}

impl Written {
    fn new(rows: usize, elapsed: Duration) -> Self {
        Self {
            rows,
            elapsed,
            cpu: CpuSeconds::default(),
        }
    }

    /// Adds a later turn and the CPU it cost.
    fn absorb(&mut self, later: Written, cpu: CpuSeconds) {
        self.rows += later.rows;
        self.elapsed += later.elapsed;
        self.cpu += later.cpu;
        self.cpu += cpu;
    }

    fn rows_per_second(self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// CPU microseconds per unit in this process and in the PostgreSQL backends.
fn cpu_per(cpu: CpuSeconds, units: u64) -> String {
    let per_unit = |seconds: f64| seconds * 1e6 / (units.max(1) as f64);
    match cpu.database {
        Some(database) => format!("{:.0} + {:.0}", per_unit(cpu.process), per_unit(database)),
        None => format!("{:.0}", per_unit(cpu.process)),
    }
}

/// Opens the service's connections: concurrent reads of ids that do not exist.
async fn warm_service_pool(clients: &[Client], connections: u32) {
    let reads = (0..connections as usize).map(|index| {
        let mut client = clients[index % clients.len()].clone();
        async move {
            let id = Uuid::new_v4().to_string();
            // NOT_FOUND is the expected answer; only the connection matters.
            client
                .get_application(pb::GetApplicationRequest { id })
                .await
                .ok();
        }
    });
    futures::future::join_all(reads).await;
}

/// Opens `connections` connections of `pool` at once.
async fn warm_pool(pool: &PgPool, connections: u32) -> anyhow::Result<()> {
    let acquired = futures::future::try_join_all((0..connections).map(|_| pool.acquire())).await?;
    drop(acquired);
    Ok(())
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
    Ok((Written::new(ids.len(), elapsed), ids))
}

/// Creates the baseline table; returns the service's COPY statement aimed at it.
async fn create_baseline_table(pool: &PgPool) -> anyhow::Result<String> {
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
    Ok(statement)
}

/// Encodes and COPYs `rows` into the baseline table with `statement`, chunk by chunk.
async fn copy_baseline(
    pool: &PgPool,
    statement: &str,
    rows: &[Application],
    options: &Options,
) -> anyhow::Result<Written> {
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
    Ok(Written::new(
        usize::try_from(inserted.iter().sum::<u64>())?,
        elapsed,
    ))
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

/// One request of a measured path; failures as text.
type Call = Arc<dyn Fn(usize) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A GetApplication call through one of `clients` (round-robin by caller) for a random id.
fn get_through_grpc(clients: Vec<Client>, ids: Arc<Vec<String>>) -> Call {
    Arc::new(move |caller| {
        let mut client = clients[caller % clients.len()].clone();
        let id = ids[rand::random_range(0..ids.len())].clone();
        Box::pin(async move {
            client
                .get_application(pb::GetApplicationRequest { id })
                .await
                .map(drop)
                .map_err(|status| status.to_string())
        })
    })
}

/// The service's primary-key SELECT for a random id, decoded into the service's row type.
fn get_through_sql(pool: PgPool, ids: Arc<Vec<Uuid>>) -> Call {
    let statement: Arc<str> = select_statement().into();
    Arc::new(move |_caller| {
        let pool = pool.clone();
        let statement = Arc::clone(&statement);
        let id = ids[rand::random_range(0..ids.len())];
        Box::pin(async move {
            let row: Option<ApplicationRow> = sqlx::query_as(&statement)
                .bind(id)
                .fetch_optional(&pool)
                .await
                .map_err(|error| error.to_string())?;
            row.map(drop)
                .ok_or_else(|| "a created application is missing".to_owned())
        })
    })
}

/// The service's primary-key read.
fn select_statement() -> String {
    format!("SELECT {COLUMNS} FROM applications WHERE id = $1")
}

/// A load result with the CPU it cost.
struct Measured {
    load: LoadReport,
    cpu: CpuSeconds,
}

impl Measured {
    fn cpu_per_request(&self) -> String {
        cpu_per(self.cpu, self.load.succeeded)
    }
}

/// Warms every path up, then runs them in turn, `--rounds` times, for `--seconds` each in
/// total; `pool` finds the database's backends for the CPU samples.
async fn measure_in_turns(
    options: &Options,
    pool: &PgPool,
    paths: &[Call],
) -> anyhow::Result<Vec<Measured>> {
    let rounds = options.rounds.max(1);
    if options.warmup_seconds > 0 {
        let warmup = LoadPlan::new(
            options.concurrency,
            Duration::from_secs(options.warmup_seconds),
        )
        .with_max_requests(options.max_requests);
        for path in paths {
            run_bounded(warmup, call_of(path)).await?;
        }
    }
    let turn = LoadPlan::new(
        options.concurrency,
        Duration::from_secs_f64(options.seconds as f64 / f64::from(rounds)),
    )
    .with_max_requests(options.max_requests / u64::from(rounds));
    let mut measured: Vec<Measured> = paths
        .iter()
        .map(|_| Measured {
            load: LoadReport::empty(),
            cpu: CpuSeconds::default(),
        })
        .collect();
    for _ in 0..rounds {
        for (path, total) in paths.iter().zip(&mut measured) {
            let before = CpuSample::take(pool).await;
            let load = run_bounded(turn, call_of(path)).await?;
            total.cpu += before.until(&CpuSample::take(pool).await);
            total.load.absorb(load);
        }
    }
    Ok(measured)
}

fn call_of(
    path: &Call,
) -> impl Fn(usize) -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static {
    let path = Arc::clone(path);
    move |caller| path(caller)
}

fn print_report(options: &Options, pool_size: u32, creates: &Creates, reads: &Reads) {
    println!();
    println!(
        "1. Batch create: {} rows in chunks of {}, {} chunk(s) in flight, the two paths taking {} turns",
        options.rows, options.batch_size, options.batch_concurrency, options.rounds
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>11}  CPU µs/row (process + postgres)",
        "path", "rows", "seconds", "rows/s"
    );
    for (name, written) in [
        ("gRPC BatchCreateApplications", creates.grpc),
        ("binary COPY, same rows and chunks (baseline)", creates.copy),
    ] {
        println!(
            "   {:<44} {:>9} {:>9.2} {:>11.0}  {}",
            name,
            written.rows,
            written.elapsed.as_secs_f64(),
            written.rows_per_second(),
            cpu_per(written.cpu, written.rows as u64)
        );
    }
    println!(
        "   waiting for search indexing after the gRPC turns: {:.1} s, {} CPU µs/row; \
         each COPY turn started after it",
        creates.indexing_tail.as_secs_f64(),
        cpu_per(creates.indexing_cpu, creates.grpc.rows as u64)
    );
    let create_ratio = creates.grpc.rows_per_second() / creates.copy.rows_per_second();
    println!(
        "   gRPC / COPY: {:.0}% (target ≥ {:.0}%: {})",
        create_ratio * 100.0,
        BATCH_TARGET * 100.0,
        verdict(create_ratio, BATCH_TARGET)
    );
    println!();
    println!(
        "2. GetApplication: {} callers, {} s per path in {} turns, random ids among {}; gRPC over {} HTTP/2 connections; SQL pool of {}",
        options.concurrency,
        options.seconds,
        options.rounds,
        options.rows,
        options.channels,
        pool_size
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>9} {:>9} {:>7}  CPU µs/req (process + postgres)",
        "path", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, measured) in [
        ("gRPC GetApplication (auth, DB, convert)", &reads.grpc),
        ("straight SQL, same SELECT (baseline a)", &reads.sql),
        ("bare tonic, constant message (baseline b)", &reads.bare),
        (
            "bare tonic + the same SELECT (decomposition)",
            &reads.bare_select,
        ),
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
    let sql_ratio = reads.grpc.load.throughput() / reads.sql.load.throughput();
    let bare_ratio = reads.grpc.load.throughput() / reads.bare.load.throughput();
    println!(
        "   gRPC / straight SQL: {:.0}% (target ≥ {:.0}%: {})",
        sql_ratio * 100.0,
        GET_TARGET * 100.0,
        verdict(sql_ratio, GET_TARGET)
    );
    let select_ratio = reads.grpc.load.throughput() / reads.bare_select.load.throughput();
    println!("   gRPC / bare tonic:   {:.0}%", bare_ratio * 100.0);
    println!(
        "   gRPC / bare tonic + SELECT: {:.0}% (what the service's own code costs)",
        select_ratio * 100.0
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target { "met" } else { "MISSED" }
}
