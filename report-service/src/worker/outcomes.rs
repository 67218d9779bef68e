//! Recording what became of a build: each change of a report and its event commit together.

use std::time::Duration;

use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    domain::ReportJob,
    storage::{
        report_events::{self, ReportEvent},
        reports::{self, StoredFile},
    },
};

fn event(job: &ReportJob, kind: &'static str) -> ReportEvent {
    ReportEvent {
        kind,
        report_id: job.report_id,
        owner: job.owner.clone(),
        format: job.format,
        percent: None,
        size: None,
        reason: None,
    }
}

/// RUNNING → COMPLETED with `report.completed`.
pub async fn completed(
    pool: &PgPool,
    job: &ReportJob,
    file: &StoredFile<'_>,
) -> anyhow::Result<()> {
    let mut transaction = pool.begin().await?;
    if reports::complete(&mut transaction, job.report_id, file).await? {
        report_events::record(
            &mut transaction,
            &ReportEvent {
                size: Some(file.size),
                ..event(job, report_events::COMPLETED)
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// → FAILED with `report.failed` and the reason.
pub async fn failed(pool: &PgPool, job: &ReportJob, reason: &str) -> anyhow::Result<()> {
    let mut transaction = pool.begin().await?;
    if reports::fail(&mut transaction, job.report_id, reason).await? {
        report_events::record(
            &mut transaction,
            &ReportEvent {
                reason: Some(reason.to_owned()),
                ..event(job, report_events::FAILED)
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

async fn progressed(pool: &PgPool, job: &ReportJob, percent: u8) -> anyhow::Result<()> {
    let mut transaction = pool.begin().await?;
    if reports::set_percent(&mut transaction, job.report_id, percent).await? {
        report_events::record(
            &mut transaction,
            &ReportEvent {
                percent: Some(percent),
                ..event(job, report_events::PROGRESS)
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Records the build's progress as it changes, at most once per `interval`. Abort the task
/// before recording the outcome, so no progress follows it.
pub fn spawn_progress(
    pool: PgPool,
    job: ReportJob,
    mut progress: watch::Receiver<u8>,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while progress.changed().await.is_ok() {
            let percent = *progress.borrow_and_update();
            if let Err(error) = progressed(&pool, &job, percent).await {
                // Progress is a courtesy; the build goes on.
                tracing::debug!(error = %format!("{error:#}"), "progress not recorded");
            }
            tokio::time::sleep(interval).await;
        }
    })
}
