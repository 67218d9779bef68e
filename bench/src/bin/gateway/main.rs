//! The API gateway (HAProxy, as `zayavki start` configures it) next to application-service reached
//! directly, in one run: REST `GET /applications/{id}` and gRPC `GetApplication` at a fixed
//! concurrency and at one caller, then the same through the gateway with two replicas behind it.
//!
//! The system runs as people run it: the release `zayavki start` as a child process, starting
//! application-service and HAProxy as its own children, with every address a free loopback port,
//! a database and a RabbitMQ virtual host of this run's own, edge and per-user limits off.
//! It is started twice: with one replica (direct against gateway) and with two (the gateway over
//! both, against the first replica directly and against the first start's gateway figures).
//!
//! ```text
//! cargo build --release -p zayavki -p application-service -p zayavki-bench --bin gateway
//! /var/tmp/zayavki-target/release/gateway        # or target/release/gateway
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod meters;
mod paths;
mod report;
mod system;

use std::{collections::BTreeMap, io::BufRead, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use zayavki_bench::{drafts::DraftGenerator, service::Bearer};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

use crate::{
    meters::Meters,
    paths::{Contestant, Load, Path, measure_in_turns, warm_up},
    report::{Findings, ReplicaPhase},
    system::{RunResources, StartedSystem, wait_until_quiet},
};

const APPLICANT: &str = "bench-applicant";
const SEED_BATCH: usize = 100;
/// Background work (search indexing of the seeded rows, a new replica catching up) may take this
/// long to settle before measuring.
const QUIET_LIMIT: Duration = Duration::from_secs(60);

/// Every option also reads an environment variable, for runs from scripts.
#[derive(Parser, Debug)]
#[command(about = "The gateway next to application-service directly, and two replicas next to one")]
pub struct Options {
    /// Applications filed before measuring; every read rotates through them.
    #[arg(long, env = "BENCH_APPLICATIONS", default_value_t = 200)]
    applications: usize,
    /// Callers, each with one request in flight, in the throughput measurements.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 32)]
    concurrency: usize,
    /// Seconds of load per path at that concurrency, over all turns.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 12)]
    seconds: u64,
    /// At most this many requests per path at that concurrency, over all turns.
    #[arg(long, env = "BENCH_MAX_REQUESTS", default_value_t = 500_000)]
    max_requests: u64,
    /// Seconds per path with one caller (the gateway's own added latency); 0 skips it.
    #[arg(long, env = "BENCH_UNLOADED_SECONDS", default_value_t = 4)]
    unloaded_seconds: u64,
    /// Turns the compared paths take, in alternating order.
    #[arg(long, env = "BENCH_TURNS", default_value_t = 4)]
    turns: usize,
    /// Seconds of unmeasured load per path before measuring.
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 1)]
    warmup_seconds: u64,
    /// HTTP/2 connections the gRPC callers share (REST uses one connection per caller).
    #[arg(long, env = "BENCH_GRPC_CHANNELS", default_value_t = 4)]
    grpc_channels: usize,
    /// Replicas in the second start.
    #[arg(long, env = "BENCH_REPLICAS", default_value_t = 2)]
    replicas: usize,
    /// Seed of the generated applications.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_121)]
    seed: u64,
    /// The `zayavki` binary; by default the one beside this benchmark's.
    #[arg(long, env = "ZAYAVKI_BIN")]
    zayavki: Option<PathBuf>,
}

impl Options {
    fn loaded(&self) -> Load {
        Load {
            concurrency: self.concurrency,
            duration: Duration::from_secs(self.seconds),
            max_requests: self.max_requests,
            turns: self.turns,
        }
    }

    fn unloaded(&self) -> Load {
        Load {
            concurrency: 1,
            duration: Duration::from_secs(self.unloaded_seconds),
            max_requests: self.max_requests,
            turns: self.turns,
        }
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup_seconds)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(
        options.applications > 0,
        "--applications must be at least 1"
    );
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(options.turns > 0, "--turns must be at least 1");
    anyhow::ensure!(options.seconds > 0, "--seconds must be at least 1");
    anyhow::ensure!(options.replicas >= 2, "--replicas must be at least 2");
    let zayavki = match &options.zayavki {
        Some(path) => path.clone(),
        None => beside_this_binary("zayavki")?,
    };
    let load_before = report::load_average();
    let resources = RunResources::create(zayavki).await?;
    eprintln!("database {}", resources.database.name);

    // Whatever happens, the systems are stopped (by `run` or by dropping them) before the
    // database goes.
    let outcome = tokio::select! {
        outcome = run(&options, &resources) => outcome,
        interrupted = tokio::signal::ctrl_c() => {
            interrupted.context("cannot listen for Ctrl-C")?;
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    let removed = resources.remove().await;
    let mut findings = outcome?;
    removed?;
    findings.load_average = (load_before, report::load_average());
    report::print(&options, &findings);
    Ok(())
}

/// Where cargo put the other binaries of this profile.
fn beside_this_binary(name: &str) -> anyhow::Result<PathBuf> {
    let current = std::env::current_exe().context("cannot find the benchmark's own binary")?;
    let directory = current
        .parent()
        .context("the benchmark's binary has no directory")?;
    Ok(directory.join(name))
}

async fn run(options: &Options, resources: &RunResources) -> anyhow::Result<Findings> {
    let token = resources.token(APPLICANT, &[Role::Applicant])?;

    let one = resources.start(1).await?;
    let addresses = one.addresses()?;
    let ids = Arc::new(seed(options, addresses.application_grpc, &token).await?);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&resources.database.url)
        .await
        .context("cannot reach the service's database")?;
    let meters = Meters::new(&one, pool.clone())?;
    let mut loaded = four_paths(options, &addresses, &token, &ids, "", "").await?;
    let mut unloaded = four_paths(options, &addresses, &token, &ids, "", "").await?;
    wait_until_quiet(meters.service_pids(), QUIET_LIMIT).await;
    eprintln!(
        "1 replica: {} callers, {} s per path…",
        options.concurrency, options.seconds
    );
    warm_up(loaded.as_flattened(), options.concurrency, options.warmup()).await?;
    measure_in_turns(&mut loaded, options.loaded(), &meters).await?;
    if options.unloaded_seconds > 0 {
        eprintln!(
            "1 replica: 1 caller, {} s per path…",
            options.unloaded_seconds
        );
        warm_up(unloaded.as_flattened(), 1, options.warmup()).await?;
        measure_in_turns(&mut unloaded, options.unloaded(), &meters).await?;
    }
    one.stop().await.context("stopping the first start")?;

    let replicas = options.replicas;
    let many = resources.start(replicas).await?;
    let addresses = many.addresses()?;
    let meters = Meters::new(&many, pool.clone())?;
    let mut spread = four_paths(
        options,
        &addresses,
        &token,
        &ids,
        " (replica 1)",
        &format!(" ({replicas} replicas)"),
    )
    .await?;
    // The further replicas' search indexes catch up from PostgreSQL when they start.
    wait_until_quiet(meters.service_pids(), QUIET_LIMIT).await;
    eprintln!(
        "{replicas} replicas: {} callers, {} s per path…",
        options.concurrency, options.seconds
    );
    warm_up(spread.as_flattened(), options.concurrency, options.warmup()).await?;
    measure_in_turns(&mut spread, options.loaded(), &meters).await?;
    let served = served_by_replica(&many)?;
    many.stop().await.context("stopping the second start")?;
    pool.close().await;

    Ok(Findings {
        applications: ids.len(),
        loaded,
        unloaded: (options.unloaded_seconds > 0).then_some(unloaded),
        replicas: ReplicaPhase {
            replicas,
            pairs: spread,
            served,
        },
        load_average: (None, None),
    })
}

/// `[[REST direct, REST gateway], [gRPC direct, gRPC gateway]]`, each checked once.
async fn four_paths(
    options: &Options,
    addresses: &system::Addresses,
    token: &str,
    ids: &Arc<Vec<String>>,
    direct_note: &str,
    gateway_note: &str,
) -> anyhow::Result<Vec<[Contestant; 2]>> {
    let rest = |address| Path::rest(address, token, Arc::clone(ids), options.concurrency);
    let grpc = |address| Path::grpc(address, token, Arc::clone(ids), options.grpc_channels);
    let pairs = vec![
        [
            Contestant::new(
                format!("REST GET /applications/{{id}}, direct{direct_note}"),
                rest(addresses.application_http)?,
            ),
            Contestant::new(
                format!("REST GET /applications/{{id}}, gateway{gateway_note}"),
                rest(addresses.gateway)?,
            ),
        ],
        [
            Contestant::new(
                format!("gRPC GetApplication, direct{direct_note}"),
                grpc(addresses.application_grpc).await?,
            ),
            Contestant::new(
                format!("gRPC GetApplication, gateway{gateway_note}"),
                grpc(addresses.gateway).await?,
            ),
        ],
    ];
    for contestant in pairs.as_flattened() {
        contestant.path().check().await.with_context(|| {
            format!("{} does not read the seeded applications", contestant.label)
        })?;
    }
    Ok(pairs)
}

/// Files `options.applications` generated applications directly over gRPC; returns their ids.
async fn seed(
    options: &Options,
    address: std::net::SocketAddr,
    token: &str,
) -> anyhow::Result<Vec<String>> {
    let channel = zayavki_bench::service::connect_channels(address, 1)
        .await?
        .remove(0);
    let mut client = ApplicationServiceClient::with_interceptor(channel, Bearer::new(token)?);
    let drafts = DraftGenerator::new(options.seed).drafts(options.applications);
    let mut ids = Vec::with_capacity(drafts.len());
    for batch in drafts.chunks(SEED_BATCH) {
        let created = client
            .batch_create_applications(pb::BatchCreateApplicationsRequest {
                request_id: String::new(),
                applications: batch.to_vec(),
            })
            .await
            .context("cannot file the applications")?
            .into_inner();
        ids.extend(created.applications.into_iter().map(|created| created.id));
    }
    anyhow::ensure!(
        ids.len() == options.applications,
        "some applications were not filed"
    );
    Ok(ids)
}

/// Reads of applications in the gateway's access log so far (warm-up and checks included), by
/// the server (replica) that answered them.
fn served_by_replica(system: &StartedSystem) -> anyhow::Result<BTreeMap<String, u64>> {
    let file = std::fs::File::open(system.stdout_path()).context("cannot read zayavki's output")?;
    let mut served = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Some(json) = line
            .strip_prefix("gateway")
            .and_then(|rest| rest.split_once("| "))
            .map(|(_, json)| json)
        else {
            continue;
        };
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        let path = entry["path"].as_str().unwrap_or_default();
        let read = path.starts_with("/applications/")
            || path == "/applications.v1.ApplicationService/GetApplication";
        if let (true, Some(server)) = (read, entry["server"].as_str()) {
            *served.entry(server.to_owned()).or_default() += 1;
        }
    }
    Ok(served)
}
