//! One delivery of `reports.jobs`, from reading the job to acknowledging it.

use std::time::Instant;

use lapin::{
    Channel,
    message::Delivery,
    options::{BasicAckOptions, BasicNackOptions},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use zayavki_common::metrics::REPORT_BUILD_DURATION_SECONDS;

use super::{
    REPORT_JOBS_TOTAL, Worker, backoff,
    outcomes::{self, spawn_progress},
    routing::{attempts_so_far, publish_dead, publish_retry},
};
use crate::{
    build::BuildError,
    domain::ReportJob,
    storage::{
        claims::{self, Claimed},
        reports::{self, StoredFile},
    },
};

impl Worker {
    /// Settles one delivery. An error means the channel failed (the worker reconnects and the
    /// delivery comes back).
    pub(super) async fn handle(
        self,
        channel: Channel,
        delivery: Delivery,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let earlier_attempts = attempts_so_far(&delivery);
        let job = match ReportJob::parse(&delivery.data) {
            Ok(job) => job,
            Err(error) => {
                publish_dead(&channel, &delivery, earlier_attempts, &error.0).await?;
                metrics::counter!(REPORT_JOBS_TOTAL, "outcome" => "unreadable").increment(1);
                delivery.ack(BasicAckOptions::default()).await?;
                return Ok(());
            }
        };
        let claim = match self.claim(&job, &shutdown).await {
            Claimed::Build(claim) => claim,
            Claimed::Finished(status) => {
                tracing::info!(report = %job.report_id, status = status.as_str(), "report already finished; job acknowledged");
                metrics::counter!(REPORT_JOBS_TOTAL, "outcome" => "duplicate").increment(1);
                delivery.ack(BasicAckOptions::default()).await?;
                return Ok(());
            }
            // Shutdown: the delivery comes back.
            Claimed::Stopped => return Ok(()),
        };
        let attempts = (earlier_attempts + 1).max(u32::try_from(claim.attempts).unwrap_or(0));
        tracing::info!(report = %job.report_id, attempts, "building report");
        let started = Instant::now();
        let outcome = self.build_and_store(&job).await;
        record_metrics(
            &job,
            &outcome,
            attempts,
            self.inner.settings.max_attempts,
            started,
        );
        let settled = self
            .settle(&channel, &delivery, &job, attempts, outcome)
            .await?;
        claim.release().await;
        match settled {
            Settled::Done => {
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Settled::Again => {
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Records what became of the build; says whether to acknowledge the delivery.
    async fn settle(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        job: &ReportJob,
        attempts: u32,
        outcome: Result<(), BuildError>,
    ) -> anyhow::Result<Settled> {
        match outcome {
            Ok(()) => {
                tracing::info!(report = %job.report_id, "report completed");
                Ok(Settled::Done)
            }
            Err(BuildError::Permanent(reason)) => {
                self.give_up(channel, delivery, job, attempts, &reason)
                    .await
            }
            Err(BuildError::Passing(error)) if attempts >= self.inner.settings.max_attempts => {
                let reason = format!("gave up after {attempts} attempts: {error:#}");
                self.give_up(channel, delivery, job, attempts, &reason)
                    .await
            }
            Err(BuildError::Passing(error)) => {
                let reason = format!("{error:#}");
                tracing::warn!(report = %job.report_id, attempts, %reason, "report build failed; retrying later");
                publish_retry(channel, delivery, attempts, &reason).await?;
                if let Err(error) = reports::requeue(&self.inner.pool, job.report_id, &reason).await
                {
                    tracing::warn!(%error, "cannot record the retry");
                }
                Ok(Settled::Done)
            }
        }
    }

    /// Claims the report, riding out a database that is away.
    async fn claim(&self, job: &ReportJob, shutdown: &CancellationToken) -> Claimed {
        let mut backoff = backoff(self.inner.settings.max_backoff);
        loop {
            match claims::claim(&self.inner.claim_connections, job, shutdown).await {
                Ok(claimed) => return claimed,
                Err(error) => {
                    let delay = backoff.next().unwrap_or(self.inner.settings.max_backoff);
                    tracing::warn!(report = %job.report_id, error = %format!("{error:#}"), retry_in = ?delay, "cannot claim the report");
                    tokio::select! {
                        () = shutdown.cancelled() => return Claimed::Stopped,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Builds the file, stores it, and records the report COMPLETED.
    async fn build_and_store(&self, job: &ReportJob) -> Result<(), BuildError> {
        let inner = &self.inner;
        let (progress, watched) = watch::channel(0_u8);
        let reporter = spawn_progress(
            inner.pool.clone(),
            job.clone(),
            watched,
            inner.settings.progress_interval,
        );
        let built = inner.builder.build(job, &progress).await;
        reporter.abort();
        reporter.await.ok();
        let built = built?;
        let key = inner
            .content
            .key_for(&format!("{}.{}", job.report_id, job.format.extension()));
        inner.content.upload(&key, &built.file).await?;
        outcomes::completed(
            &inner.pool,
            job,
            &StoredFile {
                object_key: &key,
                file_name: &built.file_name,
                size: built.size,
                sha256: &built.sha256,
                rows: built.rows,
            },
        )
        .await?;
        Ok(())
    }

    /// Dead-letters the job and records the report FAILED.
    async fn give_up(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        job: &ReportJob,
        attempts: u32,
        reason: &str,
    ) -> anyhow::Result<Settled> {
        tracing::warn!(report = %job.report_id, attempts, %reason, "report failed");
        publish_dead(channel, delivery, attempts, reason).await?;
        match outcomes::failed(&self.inner.pool, job, reason).await {
            Ok(()) => Ok(Settled::Done),
            Err(error) => {
                // The dead letter is out; the job comes back to record the failure.
                tracing::warn!(error = %format!("{error:#}"), "cannot record the failure");
                Ok(Settled::Again)
            }
        }
    }
}

/// What to tell the broker about the delivery.
enum Settled {
    /// Its outcome is recorded: acknowledge.
    Done,
    /// Recording failed: deliver it again.
    Again,
}

fn record_metrics(
    job: &ReportJob,
    outcome: &Result<(), BuildError>,
    attempts: u32,
    max_attempts: u32,
    started: Instant,
) {
    let label = match outcome {
        Ok(()) => "completed",
        Err(BuildError::Passing(_)) if attempts < max_attempts => "retried",
        Err(_) => "failed",
    };
    metrics::histogram!(
        REPORT_BUILD_DURATION_SECONDS,
        "kind" => job.kind.as_str(),
        "format" => job.format.as_str(),
        "outcome" => label,
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(REPORT_JOBS_TOTAL, "outcome" => label).increment(1);
}
