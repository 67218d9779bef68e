//! Claiming a report to build it, so that two workers never build one report at once.
//!
//! The claim is a session-level advisory lock keyed by the report id, held on a connection of
//! its own for the whole build. It holds no transaction open (a transaction that long would
//! hold back the outbox relay and the event log, which publish only behind the oldest running
//! transaction), and it ends with the connection: a worker that dies, however it dies, loses
//! its connection and so its claim, and the job's redelivery can be claimed at once.

use std::time::Duration;

use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::reports;
use crate::domain::{ReportJob, ReportStatus};

/// How often a job whose report another worker is building looks again.
const BUSY_RECHECK: Duration = Duration::from_millis(500);

/// A report this worker may build; dropped, it is released with its connection.
pub struct Claim {
    connection: PgConnection,
    report_id: Uuid,
    /// Builds started, this one included.
    pub attempts: i32,
}

/// What came of asking for a report.
pub enum Claimed {
    Build(Claim),
    /// It is COMPLETED or FAILED: nothing more to do.
    Finished(ReportStatus),
    /// Shutdown came while another worker held it.
    Stopped,
}

/// Records the job (QUEUED) if needed, waits while another worker holds the report, then moves
/// it to RUNNING and counts the attempt, unless it has finished meanwhile.
#[tracing::instrument(skip_all, fields(report = %job.report_id))]
pub async fn claim(
    options: &PgConnectOptions,
    job: &ReportJob,
    shutdown: &CancellationToken,
) -> anyhow::Result<Claimed> {
    let mut connection = PgConnection::connect_with(options).await?;
    reports::record_received(&mut connection, job).await?;
    loop {
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1::text, 0))")
                .bind(job.report_id)
                .fetch_one(&mut connection)
                .await?;
        if locked {
            break;
        }
        if let Some(status) = finished(&mut connection, job.report_id).await? {
            return Ok(Claimed::Finished(status));
        }
        tracing::debug!("another worker is building the report");
        tokio::select! {
            () = shutdown.cancelled() => return Ok(Claimed::Stopped),
            () = tokio::time::sleep(BUSY_RECHECK) => {}
        }
    }
    match reports::start_attempt(&mut connection, job.report_id).await? {
        Some(attempts) => Ok(Claimed::Build(Claim {
            connection,
            report_id: job.report_id,
            attempts,
        })),
        None => {
            let status = finished(&mut connection, job.report_id)
                .await?
                .unwrap_or(ReportStatus::Completed);
            connection.close().await.ok();
            Ok(Claimed::Finished(status))
        }
    }
}

async fn finished(connection: &mut PgConnection, id: Uuid) -> anyhow::Result<Option<ReportStatus>> {
    let status = reports::status(connection, id).await?;
    Ok(status
        .and_then(|status| status.parse::<ReportStatus>().ok())
        .filter(|status| status.is_final()))
}

impl Claim {
    /// Releases the report (after its outcome is committed).
    pub async fn release(mut self) {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1::text, 0))")
            .bind(self.report_id)
            .execute(&mut self.connection)
            .await;
        if let Err(error) = unlocked {
            tracing::debug!(%error, "releasing the claim by closing its connection");
        }
        self.connection.close().await.ok();
    }
}
