//! report-service from `report.job` to `report.completed`, in one bounded run:
//!
//! 1. latency of a small report (APPLICATIONS_SUMMARY of one applicant's few applications, CSV),
//!    jobs one after the other, from publishing the job to hearing `report.completed` on
//!    `reports.events`, and where that time goes by report-service's own timestamps;
//! 2. small reports per second with one report-service instance, then two on the same database
//!    and virtual host;
//! 3. one report of every application in CSV and in XLSX, each built by the `report-service`
//!    binary as a child process (its peak resident memory is its own), beside the raw
//!    `ExportApplications` stream read to the end.
//!
//! ```text
//! cargo build --release -p report-service --bin report-service
//! cargo run --release -p zayavki-bench --bin reports -- --rows 200000
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod child;
mod jobs;
mod stages;
mod system;

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use tokio::time::Instant;
use uuid::Uuid;
use zayavki_bench::latency::LatencyRecorder;
use zayavki_common::amqp::topology;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_export_client::ApplicationExportClient,
};

use crate::{
    child::ReportServiceProcess,
    jobs::{Outcomes, Publisher, consumers, ensure_completed, summary_job},
    stages::{Sighting, Stages},
    system::{SMALL_OWNER, System},
};

const LATENCY_TARGET: Duration = Duration::from_millis(100);
const MEMORY_TARGET_BYTES: u64 = 200 * 1024 * 1024;
/// One small report may take no longer than this, and a batch of them may go no longer without
/// one finishing.
const SMALL_LIMIT: Duration = Duration::from_secs(60);
/// Neither the large report nor the export may run longer than this.
const LARGE_LIMIT: Duration = Duration::from_secs(30 * 60);
/// How long a report-service may take to start consuming jobs.
const START_LIMIT: Duration = Duration::from_secs(60);
const START_POLL: Duration = Duration::from_millis(50);

/// Every option also reads an environment variable, for runs from scripts.
#[derive(Parser, Debug)]
#[command(
    about = "report-service: small-report latency and throughput, large reports' speed and memory"
)]
struct Options {
    /// Applications in the large reports (generated, every applicant).
    #[arg(long, env = "BENCH_ROWS", default_value_t = 1_000_000)]
    rows: usize,
    /// Applications in each small report (one applicant's).
    #[arg(long, env = "BENCH_SMALL_ROWS", default_value_t = 20)]
    small_rows: i64,
    /// Small reports built one after the other for the latency.
    #[arg(long, env = "BENCH_LATENCY_JOBS", default_value_t = 200)]
    latency_jobs: usize,
    /// Small reports published at once per throughput phase.
    #[arg(long, env = "BENCH_THROUGHPUT_JOBS", default_value_t = 300)]
    throughput_jobs: usize,
    /// Unmeasured small reports before each measured phase.
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 10)]
    warmup: usize,
    /// The `report-service` binary run for the large reports; by default the one beside this
    /// benchmark's binary (`cargo build --release -p report-service`).
    #[arg(long, env = "BENCH_REPORT_SERVICE_BIN")]
    report_service_bin: Option<PathBuf>,
    /// Skip the large reports.
    #[arg(long, env = "BENCH_SKIP_LARGE", default_value_t = false)]
    skip_large: bool,
    /// Seed of the generated applications.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_121)]
    seed: u64,
}

/// One large build: rows, time, and the child's resident set before the job and at its peak.
struct LargeBuild {
    format: &'static str,
    elapsed: Duration,
    idle_resident: u64,
    peak_resident: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.small_rows > 0, "--small-rows must be at least 1");
    let binary = match &options.report_service_bin {
        Some(binary) => binary.clone(),
        None => child::default_binary()?,
    };
    if !options.skip_large {
        anyhow::ensure!(
            binary.is_file(),
            "{} is missing: run `cargo build --release -p report-service` first",
            binary.display()
        );
    }
    println!(
        "reports benchmark: {} applications for the large reports, small reports of {}, {} CPU(s)",
        options.rows,
        options.small_rows,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let mut system = System::start(options.rows, options.small_rows, options.seed).await?;
    let outcome = run(&options, &binary, &mut system).await;
    system.stop().await?;
    outcome
}

async fn run(
    options: &Options,
    binary: &std::path::Path,
    system: &mut System,
) -> anyhow::Result<()> {
    let publisher = Publisher::open(&system.broker).await?;
    let mut outcomes = Outcomes::listen(&system.broker).await?;

    system.start_report_service().await?;
    wait_for_consumers(system, 1, None).await?;
    small_batch(&publisher, &mut outcomes, options.warmup).await?;
    let (latency, sightings) = latencies(&publisher, &mut outcomes, options.latency_jobs).await?;
    print_latency(options, &latency);
    Stages::read(&system.report_settings.database, &sightings)
        .await?
        .print();

    small_batch(&publisher, &mut outcomes, options.warmup).await?;
    let one = small_batch(&publisher, &mut outcomes, options.throughput_jobs).await?;
    system.start_report_service().await?;
    wait_for_consumers(system, 2, None).await?;
    small_batch(&publisher, &mut outcomes, options.warmup).await?;
    let two = small_batch(&publisher, &mut outcomes, options.throughput_jobs).await?;
    print_throughput(options, one, two, system.report_services());
    system.stop_report_services().await?;

    if !options.skip_large {
        let export = export_all(system).await?;
        let mut builds = Vec::new();
        for format in ["CSV", "XLSX"] {
            builds.push(large_build(system, binary, &publisher, &mut outcomes, format).await?);
        }
        print_large(system.loaded_rows, export, &builds);
    }
    println!();
    println!(
        "report.completed heard more than once for one report: {} time(s)",
        outcomes.duplicates()
    );
    publisher.close().await;
    Ok(())
}

/// Waits until `reports.jobs` has `count` consumers (a child, when given, must keep running).
async fn wait_for_consumers(
    system: &System,
    count: u32,
    mut child: Option<&mut ReportServiceProcess>,
) -> anyhow::Result<()> {
    let (connection, channel) = system.broker.channel().await?;
    let deadline = Instant::now() + START_LIMIT;
    let outcome = loop {
        if let Some(child) = child.as_deref_mut() {
            child.ensure_running()?;
        }
        match consumers(&channel, topology::REPORTS_JOBS).await {
            Ok(found) if found >= count => break Ok(()),
            Ok(_) if Instant::now() < deadline => tokio::time::sleep(START_POLL).await,
            Ok(found) => {
                break Err(anyhow::anyhow!(
                    "reports.jobs has {found} consumer(s) after {START_LIMIT:?}, expected {count}"
                ));
            }
            Err(error) => break Err(error),
        }
    };
    connection.close(0, "counted".into()).await.ok();
    outcome
}

/// Sequential small reports: from publishing each job to hearing it completed.
async fn latencies(
    publisher: &Publisher,
    outcomes: &mut Outcomes,
    jobs: usize,
) -> anyhow::Result<(LatencyRecorder, Vec<Sighting>)> {
    let mut recorder = LatencyRecorder::new();
    let mut sightings = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let report_id = Uuid::now_v7();
        let body = summary_job(report_id, SMALL_OWNER, "applicant", "CSV");
        let published_wall = Utc::now();
        let published = Instant::now();
        publisher.publish(report_id, &body).await?;
        let outcome = outcomes.wait_for(report_id, SMALL_LIMIT).await?;
        ensure_completed(report_id, &outcome)?;
        recorder.record(outcome.at.duration_since(published));
        sightings.push(Sighting {
            report_id,
            published: published_wall,
            heard: outcome.wall,
        });
    }
    Ok((recorder, sightings))
}

/// Publishes `jobs` small reports at once and waits for all; how long that took.
async fn small_batch(
    publisher: &Publisher,
    outcomes: &mut Outcomes,
    jobs: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut report_ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let report_id = Uuid::now_v7();
        publisher
            .publish(
                report_id,
                &summary_job(report_id, SMALL_OWNER, "applicant", "CSV"),
            )
            .await?;
        report_ids.push(report_id);
    }
    if report_ids.is_empty() {
        return Ok(Duration::ZERO);
    }
    let limit = SMALL_LIMIT
        .saturating_mul(u32::try_from(jobs).unwrap_or(u32::MAX).max(1))
        .min(LARGE_LIMIT);
    let last = outcomes
        .wait_for_all(&report_ids, limit, SMALL_LIMIT)
        .await?;
    Ok(last.duration_since(started))
}

/// The raw export of every application, read to the end as report-service reads it: once
/// unmeasured, so that the baseline does not pay for the cold cache the builds then find warm,
/// then timed.
async fn export_all(system: &System) -> anyhow::Result<Duration> {
    export_once(system).await?;
    export_once(system).await
}

async fn export_once(system: &System) -> anyhow::Result<Duration> {
    let service = &system.application_service;
    let client = ApplicationExportClient::with_interceptor(
        service.channel().await?,
        service.bearer("report-service", Role::Service)?,
    );
    let started = Instant::now();
    let read = async {
        let mut stream = client
            .clone()
            .export_applications(pb::ExportApplicationsRequest {
                chunk_size: 1_000,
                ..Default::default()
            })
            .await?
            .into_inner();
        let mut rows = 0_u64;
        while let Some(message) = stream.message().await? {
            rows += message.applications.len() as u64;
        }
        anyhow::Ok(rows)
    };
    let rows = tokio::time::timeout(LARGE_LIMIT, read)
        .await
        .context("the export took too long")??;
    anyhow::ensure!(
        rows == system.loaded_rows,
        "the export streamed {rows} rows, expected {}",
        system.loaded_rows
    );
    Ok(started.elapsed())
}

/// One report of every application in `format`, built by a fresh child process.
async fn large_build(
    system: &System,
    binary: &std::path::Path,
    publisher: &Publisher,
    outcomes: &mut Outcomes,
    format: &'static str,
) -> anyhow::Result<LargeBuild> {
    let mut child = ReportServiceProcess::spawn(binary, &system.child_environment)?;
    wait_for_consumers(system, 1, Some(&mut child)).await?;
    let idle_resident = child.resident_bytes()?;
    let report_id = Uuid::now_v7();
    let body = summary_job(report_id, "bench-operator", "operator", format);
    let started = Instant::now();
    publisher.publish(report_id, &body).await?;
    let outcome = outcomes.wait_for(report_id, LARGE_LIMIT).await;
    let peak_resident = child.peak_resident_bytes();
    child.stop().await?;
    let outcome = outcome?;
    ensure_completed(report_id, &outcome)?;
    let build = LargeBuild {
        format,
        elapsed: outcome.at.duration_since(started),
        idle_resident,
        peak_resident: peak_resident?,
    };
    eprintln!(
        "{format}: {:.1} s, resident {:.1} MiB before the job, peak {:.1} MiB",
        build.elapsed.as_secs_f64(),
        mebibytes(build.idle_resident),
        mebibytes(build.peak_resident)
    );
    Ok(build)
}

fn print_latency(options: &Options, latency: &LatencyRecorder) {
    println!();
    println!(
        "1. Small report latency: {} APPLICATIONS_SUMMARY CSV jobs of {} applications, one at a time, publish (confirmed) to report.completed",
        latency.count(),
        options.small_rows
    );
    println!(
        "   p50 {:.1} ms  p99 {:.1} ms  mean {:.1} ms  max {:.1} ms",
        millis(latency.p50()),
        millis(latency.p99()),
        millis(latency.mean()),
        millis(latency.max())
    );
    println!(
        "   p50 target < {:.0} ms: {}",
        millis(LATENCY_TARGET),
        verdict(latency.p50() < LATENCY_TARGET)
    );
}

fn print_throughput(options: &Options, one: Duration, two: Duration, instances: usize) {
    let rate = |elapsed: Duration| {
        options.throughput_jobs as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    };
    println!();
    println!(
        "2. Small report throughput: {} jobs published at once per phase, first publish to last report.completed",
        options.throughput_jobs
    );
    println!(
        "   {:<42} {:>9} {:>9}",
        "report-service instances", "seconds", "jobs/s"
    );
    println!(
        "   {:<42} {:>9.2} {:>9.1}",
        "1",
        one.as_secs_f64(),
        rate(one)
    );
    println!(
        "   {:<42} {:>9.2} {:>9.1}",
        instances,
        two.as_secs_f64(),
        rate(two)
    );
    println!("   two / one: {:.2}", rate(two) / rate(one));
}

fn print_large(rows: u64, export: Duration, builds: &[LargeBuild]) {
    let rate = |elapsed: Duration| rows as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    println!();
    println!(
        "3. Large reports: APPLICATIONS_SUMMARY of all {rows} applications, one child report-service per format, publish to report.completed"
    );
    println!(
        "   {:<42} {:>9} {:>11} {:>10} {:>14} {:>14}",
        "path", "seconds", "rows/s", "of export", "idle RSS MiB", "peak RSS MiB"
    );
    println!(
        "   {:<42} {:>9.2} {:>11.0} {:>10} {:>14} {:>14}",
        "raw ExportApplications stream (baseline)",
        export.as_secs_f64(),
        rate(export),
        "100%",
        "-",
        "-"
    );
    for build in builds {
        println!(
            "   {:<42} {:>9.2} {:>11.0} {:>9.0}% {:>14.1} {:>14.1}",
            format!("report-service {}", build.format),
            build.elapsed.as_secs_f64(),
            rate(build.elapsed),
            rate(build.elapsed) / rate(export) * 100.0,
            mebibytes(build.idle_resident),
            mebibytes(build.peak_resident)
        );
    }
    for build in builds {
        println!(
            "   {} peak RSS (VmHWM) {:.1} MiB, target < {:.0} MiB: {}",
            build.format,
            mebibytes(build.peak_resident),
            mebibytes(MEMORY_TARGET_BYTES),
            verdict(build.peak_resident < MEMORY_TARGET_BYTES)
        );
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
