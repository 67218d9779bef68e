//! application-service's REST facade next to its gRPC API, in the same run, against the same
//! process and data:
//!
//! 1. `GET /applications/{id}` (wrk, rotating ids) against `GetApplication` (tonic clients);
//! 2. `GET /applications?status=NEW&pageSize=20` against `ListApplications` with the same
//!    filter.
//!
//! REST load comes from `wrk` on loopback (`apt-get install wrk`), gRPC load from tonic clients
//! in this process. Both ask for the same ids in the same order.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin rest_vs_grpc
//! cargo run --release -p zayavki-bench --bin rest_vs_grpc -- --rows 2000 --seconds 3
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    fmt::Write as _, io::Write as _, path::Path, process::Command, sync::Arc, time::Duration,
};

use anyhow::Context;
use clap::Parser;
use futures::{FutureExt, StreamExt, TryStreamExt, future::BoxFuture};
use tonic::{service::interceptor::InterceptedService, transport::Channel};
use zayavki_bench::{
    drafts::DraftGenerator,
    idle::wait_until_idle,
    load::{LoadPlan, LoadReport, run_bounded},
    service::{Bearer, spawn_service},
};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

type Client = ApplicationServiceClient<InterceptedService<Channel, Bearer>>;

const APPLICANT: &str = "bench-applicant";
const SEED_BATCH: usize = 1_000;
const SETTLE_LIMIT: Duration = Duration::from_secs(120);
/// REST should serve at least this share of gRPC's requests per second.
const TARGET: f64 = 0.80;

/// Every option also reads an environment variable, for runs from scripts.
#[derive(Parser, Debug)]
#[command(about = "REST facade of application-service next to its gRPC API, same run")]
struct Options {
    /// Applications seeded before measuring.
    #[arg(long, env = "BENCH_ROWS", default_value_t = 10_000)]
    rows: usize,
    /// Seconds of load per measurement.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 10)]
    seconds: u64,
    /// Seconds of unmeasured load before each measurement (connections, caches).
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 1)]
    warmup_seconds: u64,
    /// Concurrent requests: wrk connections, and gRPC callers each with one call in flight.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// wrk threads.
    #[arg(long, env = "BENCH_WRK_THREADS", default_value_t = 2)]
    wrk_threads: usize,
    /// HTTP/2 connections the gRPC callers share, round-robin.
    #[arg(long, env = "BENCH_GRPC_CHANNELS", default_value_t = 4)]
    grpc_channels: usize,
    /// Page size of the listing measurements.
    #[arg(long, env = "BENCH_PAGE_SIZE", default_value_t = 20)]
    page_size: i32,
    /// Seed of the generated drafts.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_121)]
    seed: u64,
}

/// One measured load.
struct Measurement {
    label: String,
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
    failed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.rows > 0, "--rows must be at least 1");
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    check_wrk()?;

    let service = spawn_service(|_| {}).await?;
    let token = service.token(APPLICANT, &[Role::Applicant])?;
    let bearer = Bearer::new(&token)?;
    let clients: Vec<Client> = service
        .grpc_channels(options.grpc_channels)
        .await?
        .into_iter()
        .map(|channel| ApplicationServiceClient::with_interceptor(channel, bearer.clone()))
        .collect();

    eprintln!("seeding {} applications…", options.rows);
    let ids = Arc::new(seed(&clients, &options).await?);
    // A long-running database would have analysed the table by now (autovacuum); without fresh
    // statistics the planner sorts every row of a listing instead of walking an index.
    sqlx::query("ANALYZE applications")
        .execute(&service.pool)
        .await
        .context("cannot analyse the seeded table")?;
    // Search indexing of the new rows runs in the background; it must not overlap a measurement.
    wait_until_idle(SETTLE_LIMIT).await;

    let workdir = tempfile::tempdir().context("cannot create a directory for the wrk scripts")?;
    let ids_file = workdir.path().join("ids.txt");
    std::fs::write(&ids_file, ids.join("\n")).context("cannot write the id list")?;
    let base_url = format!("http://{}", service.http_address);
    let list_path = format!("/applications?status=NEW&pageSize={}", options.page_size);

    let mut measurements = Vec::new();
    eprintln!("GET /applications/{{id}} with wrk…");
    let get_script = write_script(workdir.path(), "get.lua", &get_script(&ids_file, &token))?;
    measurements.push(run_wrk(
        &options,
        &base_url,
        &get_script,
        "REST GET /applications/{id}",
    )?);
    wait_until_idle(SETTLE_LIMIT).await;

    eprintln!("GetApplication with tonic…");
    let get_call = get_through_grpc(clients.clone(), Arc::clone(&ids));
    measurements.push(summarize(
        "gRPC GetApplication",
        &measure(&options, get_call).await?,
    ));
    wait_until_idle(SETTLE_LIMIT).await;

    eprintln!("GET {list_path} with wrk…");
    let list_script = write_script(workdir.path(), "list.lua", &list_script(&list_path, &token))?;
    measurements.push(run_wrk(
        &options,
        &base_url,
        &list_script,
        &format!("REST GET {list_path}"),
    )?);
    wait_until_idle(SETTLE_LIMIT).await;

    eprintln!("ListApplications with tonic…");
    let list_call = list_through_grpc(clients, options.page_size);
    measurements.push(summarize(
        &format!("gRPC ListApplications (NEW, {})", options.page_size),
        &measure(&options, list_call).await?,
    ));

    print_report(&options, &measurements);
    service.stop().await
}

/// wrk must be installed; the benchmark does not fall back to anything else.
fn check_wrk() -> anyhow::Result<()> {
    // `wrk --version` prints its version and exits with status 1; only starting it matters.
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(drop)
        .context("wrk is not installed: apt-get install -y wrk")
}

/// Files `options.rows` applications through gRPC in batches; returns their ids.
async fn seed(clients: &[Client], options: &Options) -> anyhow::Result<Vec<String>> {
    let drafts = DraftGenerator::new(options.seed).drafts(options.rows);
    let batches: Vec<Vec<pb::NewApplication>> =
        drafts.chunks(SEED_BATCH).map(<[_]>::to_vec).collect();
    let created: Vec<Vec<String>> = futures::stream::iter(batches.into_iter().enumerate())
        .map(|(index, applications)| {
            let mut client = clients[index % clients.len()].clone();
            async move {
                let response = client
                    .batch_create_applications(pb::BatchCreateApplicationsRequest {
                        request_id: String::new(),
                        applications,
                    })
                    .await?;
                Ok::<_, tonic::Status>(
                    response
                        .into_inner()
                        .applications
                        .into_iter()
                        .map(|application| application.id)
                        .collect(),
                )
            }
        })
        .buffered(2)
        .try_collect()
        .await
        .context("seeding failed")?;
    Ok(created.into_iter().flatten().collect())
}

/// Rotates through the ids, each wrk thread from its own starting point.
fn get_script(ids_file: &Path, token: &str) -> String {
    format!(
        r#"local ids = {{}}
for line in io.lines("{ids}") do ids[#ids + 1] = line end
local counter = 0
local threads = 0
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Accept"] = "application/json"

function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/applications/" .. ids[(counter % #ids) + 1])
end
{done}"#,
        ids = ids_file.display(),
        done = DONE_CALLBACK,
    )
}

fn list_script(path: &str, token: &str) -> String {
    format!(
        r#"wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Accept"] = "application/json"
wrk.path = "{path}"
{DONE_CALLBACK}"#
    )
}

/// Prints one machine-readable line: requests, microseconds, p50 and p99 in microseconds, and
/// failures (non-2xx answers and socket errors).
const DONE_CALLBACK: &str = r#"
function done(summary, latency, requests)
  local errors = summary.errors
  local failed = errors.status + errors.connect + errors.read + errors.write + errors.timeout
  io.write(string.format("WRK_RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), failed))
end
"#;

fn write_script(directory: &Path, name: &str, script: &str) -> anyhow::Result<String> {
    let path = directory.join(name);
    let mut file = std::fs::File::create(&path).with_context(|| format!("cannot write {name}"))?;
    file.write_all(script.as_bytes())?;
    Ok(path.display().to_string())
}

/// Runs wrk (a warm-up first) and reads the line the script's `done` prints.
fn run_wrk(
    options: &Options,
    base_url: &str,
    script: &str,
    label: &str,
) -> anyhow::Result<Measurement> {
    let wrk = |seconds: u64| -> anyhow::Result<String> {
        let output = Command::new("wrk")
            .args([
                "--threads",
                &options.wrk_threads.to_string(),
                "--connections",
                &options.concurrency.max(options.wrk_threads).to_string(),
                "--duration",
                &format!("{seconds}s"),
                "--timeout",
                "5s",
                "--script",
                script,
                base_url,
            ])
            .output()
            .context("cannot run wrk")?;
        anyhow::ensure!(
            output.status.success(),
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    if options.warmup_seconds > 0 {
        wrk(options.warmup_seconds)?;
    }
    let stdout = wrk(options.seconds)?;
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("WRK_RESULT "))
        .with_context(|| format!("wrk printed no result:\n{stdout}"))?;
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("unexpected wrk result {line:?}"))?;
    let [requests, duration_us, p50_us, p99_us, failed] = numbers[..] else {
        anyhow::bail!("unexpected wrk result {line:?}");
    };
    let seconds = Duration::from_micros(duration_us).as_secs_f64();
    Ok(Measurement {
        label: label.to_owned(),
        requests_per_second: requests.saturating_sub(failed) as f64 / seconds.max(f64::EPSILON),
        p50: Duration::from_micros(p50_us),
        p99: Duration::from_micros(p99_us),
        failed,
    })
}

/// `GetApplication` for the ids in turn, each caller from its own starting point.
fn get_through_grpc(
    clients: Vec<Client>,
    ids: Arc<Vec<String>>,
) -> impl Fn(usize) -> BoxFuture<'static, Result<(), tonic::Status>> + Clone + Send + Sync + 'static
{
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    move |caller| {
        let mut client = clients[caller % clients.len()].clone();
        let next = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = ids[next % ids.len()].clone();
        async move {
            client
                .get_application(pb::GetApplicationRequest { id })
                .await
                .map(drop)
        }
        .boxed()
    }
}

fn list_through_grpc(
    clients: Vec<Client>,
    page_size: i32,
) -> impl Fn(usize) -> BoxFuture<'static, Result<(), tonic::Status>> + Clone + Send + Sync + 'static
{
    move |caller| {
        let mut client = clients[caller % clients.len()].clone();
        async move {
            client
                .list_applications(pb::ListApplicationsRequest {
                    status: vec![pb::ApplicationStatus::New as i32],
                    page_size,
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        .boxed()
    }
}

async fn measure<Call>(options: &Options, call: Call) -> anyhow::Result<LoadReport>
where
    Call:
        Fn(usize) -> BoxFuture<'static, Result<(), tonic::Status>> + Clone + Send + Sync + 'static,
{
    if options.warmup_seconds > 0 {
        let warmup = LoadPlan::new(
            options.concurrency,
            Duration::from_secs(options.warmup_seconds),
        );
        run_bounded(warmup, call.clone()).await?;
    }
    run_bounded(
        LoadPlan::new(options.concurrency, Duration::from_secs(options.seconds)),
        call,
    )
    .await
}

fn summarize(label: &str, report: &LoadReport) -> Measurement {
    if let Some(error) = &report.first_error {
        eprintln!("{label}: {} calls failed, first: {error}", report.failed);
    }
    Measurement {
        label: label.to_owned(),
        requests_per_second: report.throughput(),
        p50: report.latency.p50(),
        p99: report.latency.p99(),
        failed: report.failed,
    }
}

fn print_report(options: &Options, measurements: &[Measurement]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nREST (wrk, {} threads) vs gRPC (tonic, {} channels): {} concurrent, {} s each, {} applications",
        options.wrk_threads,
        options.grpc_channels,
        options.concurrency,
        options.seconds,
        options.rows
    );
    let _ = writeln!(
        out,
        "{:<52} {:>12} {:>10} {:>10} {:>8}",
        "", "requests/s", "p50", "p99", "failed"
    );
    for measurement in measurements {
        let _ = writeln!(
            out,
            "{:<52} {:>12.0} {:>10} {:>10} {:>8}",
            measurement.label,
            measurement.requests_per_second,
            format_latency(measurement.p50),
            format_latency(measurement.p99),
            measurement.failed,
        );
    }
    for (pair, what) in measurements.chunks(2).zip(["get by id", "list"]) {
        if let [rest, grpc] = pair {
            let ratio = rest.requests_per_second / grpc.requests_per_second.max(f64::EPSILON);
            let verdict = if ratio >= TARGET { "meets" } else { "MISSES" };
            let _ = writeln!(
                out,
                "{:<52} {ratio:>12.2}   ({verdict} the target of {TARGET:.2})",
                format!("REST / gRPC requests/s, {what}"),
            );
        }
    }
    println!("{out}");
}

fn format_latency(latency: Duration) -> String {
    format!("{:.2} ms", latency.as_secs_f64() * 1000.0)
}
