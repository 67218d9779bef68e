//! Full-text search: the tantivy index behind application-service's gRPC `SearchApplications`
//! next to PostgreSQL's own full-text search over the same rows, in one run on one machine:
//!
//! 1. N generated applications are copied straight into a fresh database (setup: timed, not a
//!    target);
//! 2. the index is rebuilt from PostgreSQL with `indexing::reindex`, as the `reindex` command
//!    does, and the service is then started on the rebuilt directory;
//! 3. 1-word, 2-word and phrase queries go through gRPC one at a time, as an operator (every
//!    application) and as an applicant (their own only);
//! 4. the same queries go to a GIN-indexed `tsvector` column, ranked with `ts_rank`.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin search -- --documents 20000
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    future::Future,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use application_service::indexing;
use clap::Parser;
use sqlx::{Executor, postgres::PgPoolOptions};
use zayavki_bench::{
    prepared::Prepared,
    search::{
        corpus::{self, APPLICANTS},
        postgres_baseline,
        queries::QueryKind,
        summary::{Latencies, millis},
    },
    service::BearerClient,
};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

/// The size the targets are set for.
const TARGET_DOCUMENTS: u64 = 1_000_000;
const REBUILD_TARGET: Duration = Duration::from_secs(120);
const ONE_WORD_P50_TARGET: Duration = Duration::from_millis(2);
const ONE_WORD_P99_TARGET: Duration = Duration::from_millis(10);
const SPEEDUP_TARGET: f64 = 3.0;
/// The longest wait for the service's start-up work (segment merges) to settle.
const SETTLE_LIMIT: Duration = Duration::from_secs(180);
/// Warm-up never takes longer than this per run, whatever `--warmup` says.
const WARMUP_LIMIT: Duration = Duration::from_secs(30);
/// A setup step (load, rebuild, baseline index) taking longer than this is reported as a failure.
const SETUP_LIMIT: Duration = Duration::from_secs(30 * 60);
/// A single search taking longer than this is reported as a failure.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// Every option also reads an environment variable, for runs from scripts.
#[derive(Parser, Debug)]
#[command(about = "Search latency and index rebuild time next to PostgreSQL full-text search")]
struct Options {
    /// Applications in the corpus.
    #[arg(long, env = "BENCH_DOCUMENTS", default_value_t = 1_000_000)]
    documents: usize,
    /// Measured calls per query kind, caller and engine, one at a time.
    #[arg(long, env = "BENCH_SEARCH_QUERIES", default_value_t = 2_000)]
    queries: usize,
    /// Unmeasured calls before each measured run.
    #[arg(long, env = "BENCH_SEARCH_WARMUP", default_value_t = 200)]
    warmup: usize,
    /// A measured run stops after this many seconds even if calls remain.
    #[arg(long, env = "BENCH_SEARCH_MAX_SECONDS", default_value_t = 120)]
    max_seconds: u64,
    /// Seed of the generated corpus.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_121)]
    seed: u64,
}

/// How many calls a run makes and for how long at most.
#[derive(Clone, Copy, Debug)]
struct Plan {
    warmup: usize,
    calls: usize,
    limit: Duration,
}

/// One measured run of one query kind against one engine.
struct Run {
    latencies: Latencies,
    /// Queries that found nothing during warm-up: a sign the query list no longer fits the corpus.
    found_nothing: Vec<&'static str>,
    /// Stopped by the time limit before all calls were made.
    cut_short: bool,
}

/// Our engine and the baseline on the same queries.
struct Row {
    caller: &'static str,
    kind: QueryKind,
    ours: Run,
    postgres: Run,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.documents > 0, "--documents must be at least 1");
    anyhow::ensure!(options.queries > 0, "--queries must be at least 1");
    let plan = Plan {
        warmup: options.warmup,
        calls: options.queries,
        limit: Duration::from_secs(options.max_seconds),
    };

    // The rows go in before the service starts, so its background catch-up never competes with
    // the load or the timed rebuild. The database and schema are made exactly as the service
    // makes them when it starts.
    let prepared = Prepared::create("zayavki-search-bench-").await?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(prepared.database_url())
        .await
        .context("cannot connect to the benchmark database")?;
    prepared.migrate(&pool).await?;

    println!(
        "search benchmark: {} applications, {} CPU(s)",
        options.documents,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let loaded = within(
        "loading",
        corpus::load(&pool, options.documents, options.seed),
    )
    .await?;
    println!(
        "setup: COPY of {} rows {:.1} s ({:.0} rows/s)",
        loaded.rows,
        loaded.elapsed.as_secs_f64(),
        per_second(loaded.rows, loaded.elapsed)
    );
    let started = Instant::now();
    pool.execute("VACUUM (ANALYZE) applications").await?;
    println!(
        "setup: VACUUM (ANALYZE) {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let indexed = within("the rebuild", indexing::reindex(&pool, &prepared.index_dir)).await?;
    let rebuild = started.elapsed();
    anyhow::ensure!(
        indexed == loaded.rows,
        "the rebuilt index holds {indexed} documents, the table {} rows",
        loaded.rows
    );
    let (segments, index_bytes) = index_shape(&prepared.index_dir)?;
    println!(
        "rebuild: reindex() of {indexed} documents {:.1} s ({:.0} documents/s); {segments} segment(s), {:.0} MiB",
        rebuild.as_secs_f64(),
        per_second(indexed, rebuild),
        index_bytes as f64 / (1024.0 * 1024.0)
    );

    let service = prepared.start().await?;
    // Opening the rebuilt index lets the writer merge its segments in the background; the
    // queries measure the service once that is over, as it runs most of the time.
    let settled = zayavki_bench::idle::wait_until_idle(SETTLE_LIMIT).await;
    println!(
        "service started; background merging settled after {:.1} s",
        settled.as_secs_f64()
    );
    let channel = service.channel().await?;
    let operator = ApplicationServiceClient::with_interceptor(
        channel.clone(),
        service.bearer("bench-operator", Role::Operator)?,
    );
    let applicant = APPLICANTS[0];
    let own = ApplicationServiceClient::with_interceptor(
        channel,
        service.bearer(applicant, Role::Applicant)?,
    );
    let callers = [
        ("operator", None, operator),
        ("applicant", Some(applicant), own),
    ];
    let mut ours = Vec::new();
    for (caller, _, client) in &callers {
        for kind in QueryKind::ALL {
            let run = measure(kind, plan, |text| grpc_search(client.clone(), text)).await?;
            print_progress("gRPC", caller, kind, &run);
            ours.push(run);
        }
    }
    service.stop().await?;

    let build = within("the baseline index", postgres_baseline::build(&pool)).await?;
    println!(
        "PostgreSQL baseline: tsvector column {:.1} s, GIN index {:.1} s",
        build.column.as_secs_f64(),
        build.index.as_secs_f64()
    );
    let mut rows = Vec::new();
    let mut ours = ours.into_iter();
    for (caller, applicant, _) in &callers {
        for kind in QueryKind::ALL {
            let statement = postgres_baseline::statement(kind, applicant.is_some());
            let postgres = measure(kind, plan, |text| {
                let (pool, statement) = (pool.clone(), statement.clone());
                async move {
                    let found =
                        postgres_baseline::search(&pool, &statement, text, *applicant).await?;
                    Ok(found.len())
                }
            })
            .await?;
            print_progress("PostgreSQL", caller, kind, &postgres);
            rows.push(Row {
                caller,
                kind,
                ours: ours.next().context("a gRPC run per baseline run")?,
                postgres,
            });
        }
    }
    pool.close().await;

    print_report(options.documents as u64, rebuild, &rows);
    // The database is dropped here, after everything that used it.
    drop(prepared);
    Ok(())
}

/// Warms up with `plan.warmup` calls, then times `plan.calls` calls one after another, cycling
/// through the queries of `kind`. `search` returns how many hits a query found.
async fn measure<F, Fut>(kind: QueryKind, plan: Plan, mut search: F) -> anyhow::Result<Run>
where
    F: FnMut(&'static str) -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let mut found_nothing = Vec::new();
    let warming = Instant::now();
    for call in 0..plan.warmup.max(kind.texts().len()) {
        if warming.elapsed() > WARMUP_LIMIT {
            break;
        }
        let text = kind.text(call);
        let hits = call_once(text, search(text)).await?;
        if hits == 0 && !found_nothing.contains(&text) {
            found_nothing.push(text);
        }
    }
    let mut latencies = Latencies::default();
    let started = Instant::now();
    let mut cut_short = false;
    for call in 0..plan.calls {
        if started.elapsed() > plan.limit {
            cut_short = true;
            break;
        }
        let text = kind.text(call);
        let pending = search(text);
        let sent = Instant::now();
        call_once(text, pending).await?;
        latencies.record(sent.elapsed());
    }
    Ok(Run {
        latencies,
        found_nothing,
        cut_short,
    })
}

/// One search, failing instead of hanging past [`CALL_LIMIT`].
async fn call_once(
    text: &str,
    search: impl Future<Output = anyhow::Result<usize>>,
) -> anyhow::Result<usize> {
    tokio::time::timeout(CALL_LIMIT, search)
        .await
        .with_context(|| format!("searching {text:?} took longer than {CALL_LIMIT:?}"))?
        .with_context(|| format!("searching {text:?}"))
}

/// One setup step, failing instead of hanging past [`SETUP_LIMIT`].
async fn within<T>(step: &str, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(SETUP_LIMIT, work)
        .await
        .with_context(|| format!("{step} took longer than {SETUP_LIMIT:?}"))?
        .with_context(|| format!("{step} failed"))
}

async fn grpc_search(mut client: BearerClient, text: &str) -> anyhow::Result<usize> {
    let response = client
        .search_applications(pb::SearchApplicationsRequest {
            q: text.to_owned(),
            page_size: postgres_baseline::LIMIT as i32,
            ..Default::default()
        })
        .await?;
    Ok(response.into_inner().hits.len())
}

/// Number of segments in the index's last commit and the bytes its directory holds.
fn index_shape(directory: &Path) -> anyhow::Result<(usize, u64)> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.join("meta.json"))?)?;
    let segments = meta["segments"].as_array().map_or(0, Vec::len);
    let mut bytes = 0;
    for entry in std::fs::read_dir(directory)? {
        bytes += entry?.metadata()?.len();
    }
    Ok((segments, bytes))
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}

fn print_progress(engine: &str, caller: &str, kind: QueryKind, run: &Run) {
    println!(
        "{engine} {caller} {}: {} calls, p50 {} ms, p99 {} ms, mean {} ms{}",
        kind.label(),
        run.latencies.count(),
        millis(run.latencies.p50()),
        millis(run.latencies.p99()),
        millis(run.latencies.mean()),
        if run.cut_short {
            " (time limit reached)"
        } else {
            ""
        }
    );
    if !run.found_nothing.is_empty() {
        println!("  found nothing for {:?}", run.found_nothing);
    }
}

fn print_report(documents: u64, rebuild: Duration, rows: &[Row]) {
    println!();
    println!(
        "latency in ms, sequential calls, page_size {}",
        postgres_baseline::LIMIT
    );
    println!(
        "{:<10} {:<8} | {:>6} {:>8} {:>8} {:>8} | {:>6} {:>8} {:>8} {:>8} | {:>12}",
        "caller",
        "query",
        "calls",
        "gRPC p50",
        "p99",
        "mean",
        "calls",
        "PG p50",
        "p99",
        "mean",
        "PG/gRPC p50"
    );
    for row in rows {
        let (ours, postgres) = (&row.ours.latencies, &row.postgres.latencies);
        println!(
            "{:<10} {:<8} | {:>6} {:>8} {:>8} {:>8} | {:>6} {:>8} {:>8} {:>8} | {:>11.1}x",
            row.caller,
            row.kind.label(),
            ours.count(),
            millis(ours.p50()),
            millis(ours.p99()),
            millis(ours.mean()),
            postgres.count(),
            millis(postgres.p50()),
            millis(postgres.p99()),
            millis(postgres.mean()),
            speedup(row)
        );
    }

    println!();
    if documents == TARGET_DOCUMENTS {
        println!("targets at {TARGET_DOCUMENTS} documents:");
    } else {
        println!("targets (set for {TARGET_DOCUMENTS} documents; this run has {documents}):");
    }
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!(
        "  full rebuild < {} s: {:.1} s, {}",
        REBUILD_TARGET.as_secs(),
        rebuild.as_secs_f64(),
        verdict(rebuild < REBUILD_TARGET)
    );
    let Some(one_word) = rows
        .iter()
        .find(|row| row.caller == "operator" && row.kind == QueryKind::OneWord)
    else {
        return;
    };
    let latencies = &one_word.ours.latencies;
    println!(
        "  1-word gRPC p50 < {} ms: {} ms, {}",
        ONE_WORD_P50_TARGET.as_millis(),
        millis(latencies.p50()),
        verdict(latencies.p50() < ONE_WORD_P50_TARGET)
    );
    println!(
        "  1-word gRPC p99 < {} ms: {} ms, {}",
        ONE_WORD_P99_TARGET.as_millis(),
        millis(latencies.p99()),
        verdict(latencies.p99() < ONE_WORD_P99_TARGET)
    );
    println!(
        "  1-word PostgreSQL p50 / gRPC p50 >= {SPEEDUP_TARGET}: {:.1}x, {}",
        speedup(one_word),
        verdict(speedup(one_word) >= SPEEDUP_TARGET)
    );
}

/// How many times faster than PostgreSQL the median call is.
fn speedup(row: &Row) -> f64 {
    row.postgres.latencies.p50().as_secs_f64()
        / row.ours.latencies.p50().as_secs_f64().max(f64::EPSILON)
}
