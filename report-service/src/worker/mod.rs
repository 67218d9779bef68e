//! The report worker: consumes `reports.jobs` with manual acknowledgements, building up to
//! `REPORT_PREFETCH` reports at once. Every replica runs one; they compete for the jobs.
//!
//! A delivery is acknowledged only once its outcome is settled: the file stored and the report
//! COMPLETED, or the job confirmed into a delay queue (a passing failure), or confirmed into
//! `reports.dead` and the report FAILED. A worker that dies leaves its deliveries
//! unacknowledged, so the broker delivers them again; the claim in PostgreSQL
//! (`storage::claims`) lets exactly one worker build a report, and a report already finished
//! is acknowledged without building it again.
//!
//! The connection is re-opened with backoff whenever it is lost; builds in flight then are
//! dropped, since their deliveries come back on the new connection.

mod job;
mod outcomes;
pub mod routing;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use lapin::{
    options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions},
    types::{FieldTable, ShortString},
};
use sqlx::{PgPool, postgres::PgConnectOptions};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use zayavki_common::{
    amqp::{self, AmqpSettings, connect, declare_topology, topology},
    metrics::{CONSUMER_CONNECTED, CONSUMER_UNACKNOWLEDGED, REPORT_BUILD_DURATION_SECONDS},
};

use crate::{build::Builder, content::ContentStore};

/// How the worker consumes.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub amqp: AmqpSettings,
    /// Shown in the management UI's connection and consumer lists.
    pub consumer_name: String,
    /// Jobs built at once.
    pub prefetch: u16,
    /// Builds of one report before it is given up.
    pub max_attempts: u32,
    /// Reconnecting backs off up to this.
    pub max_backoff: Duration,
    /// The shortest time between two progress events of one report.
    pub progress_interval: Duration,
}

#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// Claims hold a connection of their own, outside the pool.
    claim_connections: PgConnectOptions,
    builder: Builder,
    content: ContentStore,
    settings: WorkerSettings,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        claim_connections: PgConnectOptions,
        builder: Builder,
        content: ContentStore,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                claim_connections,
                builder,
                content,
                settings,
            }),
        }
    }

    /// Consumes until `shutdown`, reconnecting with backoff whenever the connection is lost.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = backoff(self.inner.settings.max_backoff);
        while !shutdown.is_cancelled() {
            match self.consume(&shutdown).await {
                Ok(()) => break,
                Err(error) => {
                    let delay = backoff.next().unwrap_or(self.inner.settings.max_backoff);
                    tracing::warn!(
                        error = %format!("{error:#}"),
                        retry_in = ?delay,
                        "report worker lost its connection"
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        tracing::debug!("report worker stopped");
    }

    /// One connection's worth of consuming; `Ok` at shutdown.
    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let settings = &self.inner.settings;
        let connection = connect(&settings.amqp, &settings.consumer_name).await?;
        let channel = connection.create_channel().await?;
        declare_topology(&channel).await?;
        // Retries and dead letters are confirmed before their delivery is acknowledged.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(settings.prefetch, BasicQosOptions::default())
            .await?;
        let mut deliveries = channel
            .basic_consume(
                ShortString::from(topology::REPORTS_JOBS),
                ShortString::from(settings.consumer_name.clone()),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("cannot consume reports.jobs")?;
        tracing::info!(prefetch = settings.prefetch, "consuming report jobs");
        let connected = metrics::gauge!(CONSUMER_CONNECTED, "queue" => topology::REPORTS_JOBS);
        let unacknowledged =
            metrics::gauge!(CONSUMER_UNACKNOWLEDGED, "queue" => topology::REPORTS_JOBS);
        connected.set(1.0);
        let mut in_flight = JoinSet::new();
        let outcome = loop {
            unacknowledged.set(in_flight.len() as f64);
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => {
                    match finished {
                        Ok(Ok(())) => {}
                        // The channel failed under the job: reconnect.
                        Ok(Err(error)) => break Err(error),
                        Err(error) if error.is_panic() => {
                            tracing::error!(%error, "a report build panicked");
                        }
                        Err(_) => {}
                    }
                }
                next = deliveries.next() => match next {
                    Some(Ok(delivery)) => {
                        let span = amqp::delivery_span(topology::REPORTS_JOBS, &delivery);
                        in_flight.spawn(
                            self.clone()
                                .handle(channel.clone(), delivery, shutdown.clone())
                                .instrument(span),
                        );
                    }
                    Some(Err(error)) => break Err(error.into()),
                    None => break Err(anyhow::anyhow!("the broker ended the consumer")),
                },
            }
        };
        // Builds still running are dropped: their jobs are delivered again.
        in_flight.shutdown().await;
        connected.set(0.0);
        unacknowledged.set(0.0);
        amqp::close_within(&connection, "report worker stopping", amqp::CLOSE_TIMEOUT).await;
        outcome
    }
}

/// Jobs settled, by `outcome`: `completed`, `retried`, `failed`, `duplicate`, `unreadable`.
pub const REPORT_JOBS_TOTAL: &str = "zayavki_report_jobs_total";

/// Gives the worker's metrics their help text.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        REPORT_BUILD_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time to build and store one report, by kind, format and outcome (completed, retried, failed)"
    );
    metrics::describe_counter!(
        REPORT_JOBS_TOTAL,
        metrics::Unit::Count,
        "Report jobs settled, by outcome (completed, retried, failed, duplicate, unreadable)"
    );
}

fn backoff(max: Duration) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(max)
        .with_jitter()
        .without_max_times()
        .build()
}
