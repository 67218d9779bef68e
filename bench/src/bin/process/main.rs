//! business-process driving applications to COMPLETED, next to a bare loop that makes the same
//! lifecycle calls to application-service itself, in the same run:
//!
//! 1. Orchestrated: `--applications` small applications (each approved automatically) are filed
//!    through `BatchCreateApplications`; application-service publishes `application.created`,
//!    business-process consumes it and takes every step (StartProcessing, the budget, the
//!    automatic approval, CompleteApplication, the notification, the purchase report job).
//!    Timed from the first filing to the last process seen COMPLETED.
//! 2. Bare: business-process stopped, the same number of applications filed the same way, and
//!    `--workers` callers (business-process's workers) each calling StartProcessing then
//!    CompleteApplication for one application at a time with a service token. Timed from the
//!    first filing to the last answer.
//! 3. The lag from each application's filing to its completion, from the databases.
//! 4. That every application ended COMPLETED exactly once, on both sides (exit code 1 if not).
//!
//! Everything runs in this process, on fresh databases and a RabbitMQ virtual host of its own,
//! removed at the end.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin process -- --applications 2000
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backlog;
mod checks;
mod completions;
mod filing;
mod system;

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use tokio::{sync::mpsc, time::Instant};
use tonic::transport::Channel;
use uuid::Uuid;
use zayavki_bench::{
    cpu::{CpuSample, CpuSeconds},
    drafts::DraftGenerator,
    idle::wait_until_idle,
    service::Bearer,
};
use zayavki_common::amqp::topology;
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_lifecycle_client::ApplicationLifecycleClient,
};

use crate::{
    backlog::Peaks,
    checks::{Check, Lags, Percentiles},
    completions::Completions,
    filing::{Batch, batches, spawn_filer},
    system::{ProcessTuning, System},
};

const THROUGHPUT_TARGET: f64 = 0.50;
/// The most a batch may hold (`BatchCreateApplications`).
const MAX_BATCH: usize = 1_000;
/// How long the search indexing of one phase may take to settle before the next starts.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// How long queued notifications and report jobs may take to leave after the last completion.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
const DRAIN_POLL: Duration = Duration::from_millis(200);

#[derive(Parser, Debug)]
#[command(about = "business-process throughput and lag next to bare lifecycle calls")]
struct Options {
    /// Applications each phase files and drives to COMPLETED.
    #[arg(long, env = "BENCH_APPLICATIONS", default_value_t = 10_000)]
    applications: usize,
    /// Applications per `BatchCreateApplications` call (at most 1,000).
    #[arg(long, env = "BENCH_BATCH_SIZE", default_value_t = 1_000)]
    batch_size: usize,
    /// Applicants the batches take turns among.
    #[arg(long, env = "BENCH_APPLICANTS", default_value_t = 10)]
    applicants: usize,
    /// business-process's `PROCESS_WORKERS`, and the bare loop's callers.
    #[arg(long, env = "BENCH_PROCESS_WORKERS", default_value_t = 8)]
    workers: usize,
    /// business-process's `EVENTS_PREFETCH`.
    #[arg(long, env = "BENCH_EVENTS_PREFETCH", default_value_t = 64)]
    prefetch: u16,
    /// Applications each phase drives first, not measured (connections, caches).
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 200)]
    warmup: usize,
    /// The whole run gives up after this many seconds.
    #[arg(long, env = "BENCH_MAX_SECONDS", default_value_t = 1_200)]
    max_seconds: u64,
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_202)]
    seed: u64,
}

/// One timed path.
struct Measured {
    ids: Vec<Uuid>,
    elapsed: Duration,
    cpu: CpuSeconds,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.ids.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// What the orchestrated phase left to report besides its timing.
struct Outcome {
    checks: Vec<Check>,
    lags: Lags,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let options = Options::parse();
    anyhow::ensure!(
        options.applications >= 1,
        "--applications must be at least 1"
    );
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&options.batch_size),
        "--batch-size must be between 1 and {MAX_BATCH}"
    );
    anyhow::ensure!(options.applicants >= 1, "--applicants must be at least 1");
    anyhow::ensure!(options.workers >= 1, "--workers must be at least 1");
    anyhow::ensure!(options.prefetch >= 1, "--prefetch must be at least 1");
    let deadline = Instant::now() + Duration::from_secs(options.max_seconds);
    println!(
        "business-process benchmark: {} applications per path in batches of {} from {} applicants, \
         {} workers / callers, prefetch {}, {} CPU(s)",
        options.applications,
        options.batch_size,
        options.applicants,
        options.workers,
        options.prefetch,
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let mut system = System::start(ProcessTuning {
        workers: options.workers,
        prefetch: options.prefetch,
    })
    .await?;
    let ran = run(&mut system, &options, deadline).await;
    let stopped = system.stop().await;
    let (orchestrated, bare, outcome) = ran?;
    stopped?;
    Ok(report(&orchestrated, &bare, &outcome))
}

async fn run(
    system: &mut System,
    options: &Options,
    deadline: Instant,
) -> anyhow::Result<(Measured, Measured, Outcome)> {
    let channel = system.application_service.channel().await?;
    let mut drafts = DraftGenerator::new(options.seed);
    let mut batches_of = |count: usize, prefix: &str| {
        batches(
            &system.application_service,
            &channel,
            &mut drafts,
            count,
            options.batch_size,
            options.applicants,
            prefix,
        )
    };
    let warmup_orchestrated = batches_of(options.warmup, "bench-warmup")?;
    let measured_orchestrated = batches_of(options.applications, "bench-applicant")?;
    let warmup_bare = batches_of(options.warmup, "bench-bare-warmup")?;
    let measured_bare = batches_of(options.applications, "bench-bare-applicant")?;

    system.start_process().await?;
    let mut completions = Completions::listen(&system.process_pool).await?;
    let (_connection, events) = system.broker().channel().await?;
    orchestrate(
        &mut completions,
        system,
        &events,
        warmup_orchestrated,
        deadline,
    )
    .await
    .context("orchestrated warm-up")?;
    wait_until_idle(SETTLE_LIMIT).await;
    let (orchestrated, peaks) = orchestrate(
        &mut completions,
        system,
        &events,
        measured_orchestrated,
        deadline,
    )
    .await
    .context("orchestrated phase")?;
    println!(
        "orchestrated: {} applications filed and COMPLETED in {:.2} s",
        orchestrated.ids.len(),
        orchestrated.elapsed.as_secs_f64()
    );
    println!(
        "   largest backlogs over {} samples: {} application events ready in {}, \
         {} processes STARTING or APPROVING",
        peaks.samples,
        peaks.events_ready,
        topology::BUSINESS_PROCESS_APPLICATION_EVENTS,
        peaks.processes_waiting
    );
    let every_process = u64::try_from(options.warmup + options.applications)?;
    let report_jobs_published = system
        .wait_for_report_jobs(every_process, DRAIN_LIMIT)
        .await;
    let notifications_delivered = wait_for_notifications(&system.process_pool).await?;
    println!(
        "   report jobs published {report_jobs_published}/{every_process}, notifications delivered \
         {notifications_delivered}/{every_process} (warm-up included)"
    );
    let checks = checks::completed_exactly_once(
        &system.applications_pool,
        &system.process_pool,
        &orchestrated.ids,
    )
    .await?;
    let lags = checks::lags(
        &system.applications_pool,
        &system.process_pool,
        &orchestrated.ids,
        completions.seen(),
    )
    .await?;
    if completions.found_by_query() > 0 {
        println!(
            "   ({} completions were read from the table while the notification channel was silent)",
            completions.found_by_query()
        );
    }
    drop(completions);
    system.stop_process().await?;
    wait_until_idle(SETTLE_LIMIT).await;

    let lifecycle = system
        .application_service
        .bearer("bench-bare-process", Role::Service)?;
    drive_bare(system, &channel, &lifecycle, warmup_bare, options, deadline)
        .await
        .context("bare warm-up")?;
    wait_until_idle(SETTLE_LIMIT).await;
    let bare = drive_bare(
        system,
        &channel,
        &lifecycle,
        measured_bare,
        options,
        deadline,
    )
    .await
    .context("bare phase")?;
    println!(
        "bare: {} applications filed, started and completed in {:.2} s",
        bare.ids.len(),
        bare.elapsed.as_secs_f64()
    );
    let bare_completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM applications WHERE status = 'COMPLETED' AND id = ANY($1)",
    )
    .bind(&bare.ids)
    .fetch_one(&system.applications_pool)
    .await?;
    anyhow::ensure!(
        usize::try_from(bare_completed)? == bare.ids.len(),
        "the bare loop left {} of {} applications short of COMPLETED",
        bare.ids.len() - usize::try_from(bare_completed)?,
        bare.ids.len()
    );
    Ok((orchestrated, bare, Outcome { checks, lags }))
}

/// Files `batches` while business-process runs and waits until each process is COMPLETED.
async fn orchestrate(
    completions: &mut Completions,
    system: &System,
    events: &lapin::Channel,
    batches: Vec<Batch>,
    deadline: Instant,
) -> anyhow::Result<(Measured, Peaks)> {
    let before = cpu_sample(system, true).await;
    let (filed, receiver) = mpsc::unbounded_channel();
    let mut peaks = Peaks::default();
    let started = Instant::now();
    let filer = spawn_filer(batches, filed);
    let completed = tokio::select! {
        completed = completions.wait_for_all(receiver, deadline) => completed,
        () = backlog::sample(events, &system.process_pool, &mut peaks) => {
            Err(anyhow::anyhow!("sampling the backlog stopped"))
        }
    };
    let filing = filer.await.context("the filing task panicked")?;
    let completed = completed?;
    filing?;
    let elapsed = completed.last_at - started;
    let cpu = cpu_sample(system, true).await.since(&before);
    let measured = Measured {
        ids: completed.ids,
        elapsed,
        cpu,
    };
    Ok((measured, peaks))
}

/// Files `batches` and has `options.workers` callers take each application through
/// StartProcessing and CompleteApplication as soon as it is filed.
async fn drive_bare(
    system: &System,
    channel: &Channel,
    lifecycle: &Bearer,
    batches: Vec<Batch>,
    options: &Options,
    deadline: Instant,
) -> anyhow::Result<Measured> {
    let client = ApplicationLifecycleClient::with_interceptor(channel.clone(), lifecycle.clone());
    let before = cpu_sample(system, false).await;
    let (filed, receiver) = mpsc::unbounded_channel::<Vec<Uuid>>();
    let started = Instant::now();
    let filer = spawn_filer(batches, filed);
    let mut ids = Vec::new();
    let filed_ids = futures::stream::unfold(receiver, |mut receiver| async move {
        let batch = receiver.recv().await?;
        Some((futures::stream::iter(batch), receiver))
    })
    .flatten()
    .inspect(|id| ids.push(*id));
    let driven = filed_ids
        .map(Ok)
        .try_for_each_concurrent(options.workers, |id| start_and_complete(client.clone(), id));
    let driven = tokio::time::timeout_at(deadline, driven).await;
    let elapsed = started.elapsed();
    let filing = filer.await.context("the filing task panicked")?;
    driven.context("out of time")??;
    filing?;
    let cpu = cpu_sample(system, false).await.since(&before);
    Ok(Measured { ids, elapsed, cpu })
}

type LifecycleClient =
    ApplicationLifecycleClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

async fn start_and_complete(mut client: LifecycleClient, id: Uuid) -> anyhow::Result<()> {
    let transition = || pb::TransitionRequest {
        id: id.to_string(),
        expected_version: None,
        reason: None,
    };
    client
        .start_processing(transition())
        .await
        .with_context(|| format!("StartProcessing {id}"))?;
    let completed = client
        .complete_application(transition())
        .await
        .with_context(|| format!("CompleteApplication {id}"))?
        .into_inner();
    anyhow::ensure!(
        completed.status == pb::ApplicationStatus::Completed as i32,
        "CompleteApplication left {id} in status {}",
        completed.status
    );
    Ok(())
}

/// Waits until no notification is left undelivered, or [`DRAIN_LIMIT`] passes; returns how many
/// were delivered.
async fn wait_for_notifications(pool: &sqlx::PgPool) -> anyhow::Result<i64> {
    let give_up = Instant::now() + DRAIN_LIMIT;
    loop {
        let (undelivered, delivered): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE delivered_at IS NULL), \
             count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM notifications",
        )
        .fetch_one(pool)
        .await?;
        if undelivered == 0 || Instant::now() >= give_up {
            return Ok(delivered);
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// CPU of this process and of the backends of application-service's database and, when
/// `with_process` is set, business-process's.
struct BothSamples {
    applications: CpuSample,
    process: Option<CpuSample>,
}

impl BothSamples {
    fn since(&self, before: &BothSamples) -> CpuSeconds {
        let mut spent = before.applications.until(&self.applications);
        if let (Some(before), Some(after)) = (&before.process, &self.process) {
            spent.database =
                Some(spent.database.unwrap_or(0.0) + before.until(after).database.unwrap_or(0.0));
        }
        spent
    }
}

async fn cpu_sample(system: &System, with_process: bool) -> BothSamples {
    BothSamples {
        applications: CpuSample::take(&system.applications_pool).await,
        process: if with_process {
            Some(CpuSample::take(&system.process_pool).await)
        } else {
            None
        },
    }
}

fn report(orchestrated: &Measured, bare: &Measured, outcome: &Outcome) -> ExitCode {
    println!();
    println!(
        "   path                                              applications   seconds      apps/s  CPU ms/app (process + postgres)"
    );
    print_path("business-process, filing to last COMPLETED", orchestrated);
    print_path("bare StartProcessing + CompleteApplication", bare);
    let ratio = orchestrated.per_second() / bare.per_second();
    println!(
        "   orchestrated / bare: {:.0}% (target ≥ {:.0}%: {})",
        ratio * 100.0,
        THROUGHPUT_TARGET * 100.0,
        verdict(ratio >= THROUGHPUT_TARGET)
    );
    println!();
    println!("lag from filing (applied_at = application.created occurredAt) to COMPLETED:");
    print_lag(
        "application.completed step (process_steps.at)",
        &outcome.lags.recorded,
    );
    if let Some(seen) = &outcome.lags.seen {
        print_lag("COMPLETED notification received", seen);
    }
    println!();
    println!(
        "checks over the {} measured applications:",
        orchestrated.ids.len()
    );
    let mut passed = true;
    for check in &outcome.checks {
        passed &= check.passed();
        println!(
            "   {:<45} {:>7}/{:<7} {}",
            check.what,
            check.matching,
            check.expected,
            if check.passed() { "ok" } else { "FAILED" }
        );
    }
    if passed {
        println!("OK: every application ended COMPLETED exactly once");
        ExitCode::SUCCESS
    } else {
        println!("FAILED");
        ExitCode::FAILURE
    }
}

fn print_path(name: &str, measured: &Measured) {
    let per_application = |seconds: f64| seconds * 1000.0 / measured.ids.len() as f64;
    println!(
        "   {name:<50} {:>12} {:>9.2} {:>11.0}  {:.2} + {:.2}",
        measured.ids.len(),
        measured.elapsed.as_secs_f64(),
        measured.per_second(),
        per_application(measured.cpu.process),
        per_application(measured.cpu.database.unwrap_or(0.0)),
    );
}

fn print_lag(name: &str, lag: &Percentiles) {
    println!(
        "   {name:<48} {:>6} apps  p50 {:>7.3} s  p99 {:>7.3} s  max {:>7.3} s",
        lag.count,
        lag.p50.as_secs_f64(),
        lag.p99.as_secs_f64(),
        lag.max.as_secs_f64()
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
