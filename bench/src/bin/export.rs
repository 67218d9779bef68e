//! `ExportApplications` (server-streaming gRPC) next to PostgreSQL's own
//! `COPY (SELECT …) TO STDOUT` of the same rows, in the same run, on the same database:
//!
//! - the service: one export of every application ordered by id, read to the end by a tonic
//!   client in this process, as report-service reads it;
//! - the baseline: `COPY (SELECT <the columns the export reads> FROM applications ORDER BY id)
//!   TO STDOUT`, read to the end through sqlx's `copy_out_raw`.
//!
//! The two take turns, and each line shows the CPU it cost per row. While the export runs, the
//! process's resident memory is sampled: the service runs in this process, so the peak growth
//! above the level before the export is what the export made the service hold.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin export -- --rows 100000
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use application_service::storage::application_rows::COLUMNS;
use clap::Parser;
use futures::StreamExt;
use sqlx::{Executor, PgPool, postgres::PgPoolCopyExt};
use zayavki_bench::{
    cpu::{CpuSample, CpuSeconds},
    prepared::Prepared,
    search::corpus,
    service::Bearer,
};
use zayavki_common::database::lazy_pool;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_export_client::ApplicationExportClient,
};
use zayavki_search::SearchIndex;

const THROUGHPUT_TARGET: f64 = 0.40;
const MEMORY_TARGET_BYTES: u64 = 100 * 1024 * 1024;
const RESIDENT_SAMPLE_INTERVAL: Duration = Duration::from_millis(5);
/// No single export or COPY may run longer than this, whatever the row count.
const RUN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Every option also reads an environment variable, for runs from scripts.
#[derive(Parser, Debug)]
#[command(about = "ExportApplications next to COPY … TO STDOUT of the same rows")]
struct Options {
    /// Applications in the database, all of them exported.
    #[arg(long, env = "BENCH_ROWS", default_value_t = 1_000_000)]
    rows: usize,
    /// `chunk_size` of the export request; 0 means the service's default.
    #[arg(long, env = "BENCH_CHUNK_SIZE", default_value_t = 0)]
    chunk_size: i32,
    /// Turns the two paths take, one after the other.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3)]
    rounds: u32,
    /// Seed of the generated applications.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_121)]
    seed: u64,
}

/// Rows read to the end, the wall time it took and the CPU it cost.
#[derive(Clone, Copy, Debug, Default)]
struct Read {
    rows: u64,
    bytes: u64,
    elapsed: Duration,
    cpu: CpuSeconds,
}

impl Read {
    fn absorb(&mut self, later: Read) {
        self.rows += later.rows;
        self.bytes += later.bytes;
        self.elapsed += later.elapsed;
        self.cpu += later.cpu;
    }

    fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn cpu_per_row(&self) -> String {
        let per_row = |seconds: f64| seconds * 1e6 / (self.rows.max(1) as f64);
        match self.cpu.database {
            Some(database) => format!(
                "{:.2} + {:.2}",
                per_row(self.cpu.process),
                per_row(database)
            ),
            None => format!("{:.2}", per_row(self.cpu.process)),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.rows > 0, "--rows must be at least 1");

    // The rows go in before the service starts, made as the service makes its database.
    let prepared = Prepared::create("zayavki-export-bench-").await?;
    let pool = lazy_pool(&prepared.settings.database)?;
    prepared.migrate(&pool).await?;
    println!(
        "export benchmark: {} applications, {} CPU(s)",
        options.rows,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let loaded = corpus::load(&pool, options.rows, options.seed).await?;
    pool.execute("VACUUM (ANALYZE) applications").await?;
    println!(
        "setup: binary COPY of {} rows {:.1} s",
        loaded.rows,
        loaded.elapsed.as_secs_f64()
    );
    mark_rows_indexed(&pool, &prepared.index_dir).await?;

    let service = prepared.start().await?;
    let client = ApplicationExportClient::with_interceptor(
        service.channel().await?,
        service.bearer("bench-reports", Role::Service)?,
    );
    let copy_statement = format!("COPY (SELECT {COLUMNS} FROM applications ORDER BY id) TO STDOUT");

    // Opens the connections both paths use, so the CPU samples see their backends, and warms
    // PostgreSQL's buffers with one full read.
    export_all(&client, options.chunk_size, None).await?;
    copy_all(&pool, &copy_statement).await?;

    let mut export = Read::default();
    let mut copy = Read::default();
    let mut peak_growth = 0;
    for round in 0..options.rounds.max(1) {
        let before = CpuSample::take(&pool).await;
        let (mut exported, growth) =
            export_all(&client, options.chunk_size, Some(loaded.rows)).await?;
        exported.cpu = before.until(&CpuSample::take(&pool).await);
        peak_growth = peak_growth.max(growth);
        let before = CpuSample::take(&pool).await;
        let mut copied = copy_all(&pool, &copy_statement).await?;
        copied.cpu = before.until(&CpuSample::take(&pool).await);
        anyhow::ensure!(
            copied.rows == loaded.rows,
            "COPY read {} rows, expected {}",
            copied.rows,
            loaded.rows
        );
        eprintln!(
            "round {}: export {:.0} rows/s, COPY {:.0} rows/s, resident growth {:.1} MiB",
            round + 1,
            exported.rows_per_second(),
            copied.rows_per_second(),
            mebibytes(growth)
        );
        export.absorb(exported);
        copy.absorb(copied);
    }
    print_report(&options, &export, &copy, peak_growth);

    service.stop().await?;
    pool.close().await;
    drop(prepared);
    Ok(())
}

/// Tells the (empty) search index that every row now in the table is indexed, so that the
/// service does not spend the run indexing them: the export never reads the index.
async fn mark_rows_indexed(pool: &PgPool, index_dir: &Path) -> anyhow::Result<()> {
    let every_transaction_so_far: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
    let index = SearchIndex::open_or_create(index_dir)?;
    let watermark = u64::try_from(every_transaction_so_far)?;
    tokio::task::spawn_blocking(move || index.upsert(Vec::new(), Some(watermark))).await??;
    Ok(())
}

/// One export of every application; with `expected`, checks the total and the rows and
/// returns the peak growth of resident memory while it ran.
async fn export_all(
    client: &ApplicationExportClient<
        tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
    >,
    chunk_size: i32,
    expected: Option<u64>,
) -> anyhow::Result<(Read, u64)> {
    let before = resident_bytes().unwrap_or(0);
    let peak = Arc::new(AtomicU64::new(before));
    let sampler = tokio::spawn(sample_resident(Arc::clone(&peak)));
    let started = Instant::now();
    let read = async {
        let mut stream = client
            .clone()
            .export_applications(pb::ExportApplicationsRequest {
                chunk_size,
                ..Default::default()
            })
            .await?
            .into_inner();
        let mut total = None;
        let mut rows = 0_u64;
        while let Some(message) = stream.message().await? {
            total = total.or(message.total);
            rows += message.applications.len() as u64;
        }
        anyhow::Ok((total, rows))
    };
    let (total, rows) = tokio::time::timeout(RUN_LIMIT, read)
        .await
        .context("the export took too long")??;
    let elapsed = started.elapsed();
    sampler.abort();
    if let Some(expected) = expected {
        anyhow::ensure!(
            total == Some(i64::try_from(expected)?) && rows == expected,
            "the export announced {total:?} and streamed {rows} rows, expected {expected}"
        );
    }
    let growth = peak.load(Ordering::Relaxed).saturating_sub(before);
    Ok((
        Read {
            rows,
            bytes: 0,
            elapsed,
            cpu: CpuSeconds::default(),
        },
        growth,
    ))
}

/// PostgreSQL's own export of the same rows, read to the end.
async fn copy_all(pool: &PgPool, statement: &str) -> anyhow::Result<Read> {
    let started = Instant::now();
    let read = async {
        let mut stream = pool.copy_out_raw(statement).await?;
        let (mut rows, mut bytes) = (0_u64, 0_u64);
        while let Some(data) = stream.next().await {
            let data = data?;
            bytes += data.len() as u64;
            // Text COPY escapes newlines inside values: one newline per row.
            rows += data.iter().filter(|byte| **byte == b'\n').count() as u64;
        }
        anyhow::Ok((rows, bytes))
    };
    let (rows, bytes) = tokio::time::timeout(RUN_LIMIT, read)
        .await
        .context("COPY took too long")??;
    Ok(Read {
        rows,
        bytes,
        elapsed: started.elapsed(),
        cpu: CpuSeconds::default(),
    })
}

/// Keeps the highest resident set seen in `peak` until aborted.
async fn sample_resident(peak: Arc<AtomicU64>) {
    let mut tick = tokio::time::interval(RESIDENT_SAMPLE_INTERVAL);
    loop {
        tick.tick().await;
        if let Some(resident) = resident_bytes() {
            peak.fetch_max(resident, Ordering::Relaxed);
        }
    }
}

/// This process's resident set, from `/proc/self/status`.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kibibytes: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kibibytes * 1024)
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_report(options: &Options, export: &Read, copy: &Read, peak_growth: u64) {
    println!();
    println!(
        "{} rows ordered by id, {} turn(s) per path, export chunk_size {}",
        options.rows,
        options.rounds.max(1),
        if options.chunk_size == 0 {
            "default".to_owned()
        } else {
            options.chunk_size.to_string()
        }
    );
    println!(
        "   {:<46} {:>9} {:>9} {:>11}  CPU µs/row (process + postgres)",
        "path", "rows", "seconds", "rows/s"
    );
    for (name, read) in [
        ("gRPC ExportApplications (tonic client)", export),
        ("COPY (SELECT …) TO STDOUT (baseline)", copy),
    ] {
        println!(
            "   {:<46} {:>9} {:>9.2} {:>11.0}  {}",
            name,
            read.rows,
            read.elapsed.as_secs_f64(),
            read.rows_per_second(),
            read.cpu_per_row()
        );
    }
    println!(
        "   COPY text: {:.0} bytes per row",
        copy.bytes as f64 / copy.rows.max(1) as f64
    );
    let ratio = export.rows_per_second() / copy.rows_per_second();
    println!(
        "   export / COPY: {:.0}% (target ≥ {:.0}%: {})",
        ratio * 100.0,
        THROUGHPUT_TARGET * 100.0,
        verdict(ratio >= THROUGHPUT_TARGET)
    );
    println!(
        "   peak resident growth during an export: {:.1} MiB (target < {:.0} MiB: {})",
        mebibytes(peak_growth),
        mebibytes(MEMORY_TARGET_BYTES),
        verdict(peak_growth < MEMORY_TARGET_BYTES)
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
