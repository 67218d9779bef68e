//! Where a small report's time goes. report-service's `reports` row says when the job was
//! received (`created_at`: the claim's connection is open and the row inserted), claimed
//! (`started_at`: the advisory lock taken) and completed (`finished_at`: the start of the
//! transaction that records COMPLETED and `report.completed`); the benchmark adds when it
//! published the job and when it heard the event. Every stamp comes from this machine's clock.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use zayavki_bench::latency::LatencyRecorder;
use zayavki_common::database::{DatabaseSettings, lazy_pool};

/// One small report as the benchmark saw it.
pub struct Sighting {
    pub report_id: Uuid,
    /// Just before the publish (whose confirm the latency includes).
    pub published: DateTime<Utc>,
    /// When `report.completed` arrived.
    pub heard: DateTime<Utc>,
}

/// A report's own timestamps.
#[derive(sqlx::FromRow)]
struct Stamps {
    id: Uuid,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// The latency split at report-service's timestamps.
pub struct Stages {
    /// Publish to the row inserted: broker delivery, a new database connection for the claim,
    /// the insert.
    pub received: LatencyRecorder,
    /// The advisory lock and the move to RUNNING.
    pub claimed: LatencyRecorder,
    /// The export call, the file written, hashed and stored.
    pub built: LatencyRecorder,
    /// The completing transaction, the outbox relay's publish and its confirm, the broker's
    /// delivery to the benchmark.
    pub announced: LatencyRecorder,
}

impl Stages {
    /// Reads the reports of `sightings` from report-service's database.
    pub async fn read(database: &DatabaseSettings, sightings: &[Sighting]) -> anyhow::Result<Self> {
        let pool = lazy_pool(database)?;
        let ids: Vec<Uuid> = sightings
            .iter()
            .map(|sighting| sighting.report_id)
            .collect();
        let stamps: Vec<Stamps> = sqlx::query_as(
            "SELECT id, created_at, started_at, finished_at FROM reports WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&pool)
        .await
        .context("cannot read the reports' timestamps")?;
        pool.close().await;
        let mut stages = Self {
            received: LatencyRecorder::new(),
            claimed: LatencyRecorder::new(),
            built: LatencyRecorder::new(),
            announced: LatencyRecorder::new(),
        };
        for sighting in sightings {
            let report = stamps
                .iter()
                .find(|report| report.id == sighting.report_id)
                .with_context(|| format!("report {} is not in the database", sighting.report_id))?;
            let started = report
                .started_at
                .context("a completed report has no started_at")?;
            let finished = report
                .finished_at
                .context("a completed report has no finished_at")?;
            stages
                .received
                .record(between(sighting.published, report.created_at));
            stages.claimed.record(between(report.created_at, started));
            stages.built.record(between(started, finished));
            stages.announced.record(between(finished, sighting.heard));
        }
        Ok(stages)
    }

    /// One line per stage: its p50 and p99.
    pub fn print(&self) {
        println!("   where the time goes (report-service's timestamps), per stage:");
        for (name, recorder) in [
            (
                "publish to job received (delivery, claim connection)",
                &self.received,
            ),
            ("received to claimed (lock, RUNNING)", &self.claimed),
            ("claimed to completing (export, file, store)", &self.built),
            (
                "completing to report.completed heard (commit, relay)",
                &self.announced,
            ),
        ] {
            println!(
                "     {name:<54} p50 {:>7.1} ms  p99 {:>7.1} ms",
                millis(recorder.p50()),
                millis(recorder.p99())
            );
        }
    }
}

/// `later - earlier`, zero when the clocks' rounding puts them the other way round.
fn between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> Duration {
    (later - earlier).to_std().unwrap_or(Duration::ZERO)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
