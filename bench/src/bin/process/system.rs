//! What the benchmark runs: a RabbitMQ virtual host of its own, application-service publishing
//! its events there, business-process on a database of its own (started and stopped between the
//! phases), and the development notification sink, all in this process on loopback ports.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use application_service::config::relay_settings;
use business_process::{
    config::Settings as ProcessSettings,
    notifier::{
        BreakerSettings, DeliverySettings, NotificationSink, NotifierSettings, RetrySettings,
    },
    startup::Application as ProcessApplication,
};
use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};
use zayavki_bench::prepared::{Prepared, PreparedService};
use zayavki_common::{
    database::lazy_pool, money::Money, outbox::RelayStats, shutdown::CancellationToken,
};
use zayavki_testkit::{TestBroker, TestDatabase};

const STOP_LIMIT: Duration = Duration::from_secs(30);
/// High enough that no applicant's month runs out, whatever the number of applications.
const MONTHLY_BUDGET_MINOR: i64 = 100_000_000_000;

/// How business-process runs in the benchmark.
#[derive(Clone, Copy, Debug)]
pub struct ProcessTuning {
    /// `PROCESS_WORKERS`.
    pub workers: usize,
    /// `EVENTS_PREFETCH`.
    pub prefetch: u16,
}

/// Everything the benchmark started. Stop it with [`System::stop`]; dropping it instead still
/// drops the databases and deletes the virtual host.
pub struct System {
    pub application_service: PreparedService,
    /// A pool of the benchmark's own on application-service's database.
    pub applications_pool: PgPool,
    /// A pool of the benchmark's own on business-process's database.
    pub process_pool: PgPool,
    process: Option<RunningProcess>,
    sink: Running,
    process_settings: ProcessSettings,
    // Dropped last: the databases and the virtual host outlive the services using them.
    applications: Prepared,
    _process_database: TestDatabase,
    broker: TestBroker,
}

/// business-process while it runs.
struct RunningProcess {
    service: Running,
    relay_stats: watch::Receiver<RelayStats>,
}

/// A server task with its own shutdown token.
struct Running {
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    fn spawn(start: impl FnOnce(CancellationToken) -> JoinHandle<anyhow::Result<()>>) -> Self {
        let shutdown = CancellationToken::new();
        let task = start(shutdown.clone());
        Self {
            shutdown,
            task: Some(task),
        }
    }

    async fn stop(&mut self, what: &str) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(STOP_LIMIT, task)
                .await
                .with_context(|| format!("{what} did not stop in time"))??
                .with_context(|| format!("{what} failed"))?;
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl System {
    /// Starts application-service and the notification sink; business-process is started by
    /// [`System::start_process`].
    pub async fn start(tuning: ProcessTuning) -> anyhow::Result<Self> {
        let broker = TestBroker::fresh()
            .await
            .context("cannot create a RabbitMQ virtual host (is the management API on 15672?)")?;
        let mut applications = Prepared::create("zayavki-process-bench").await?;
        applications.settings.events = Some(relay_settings(broker.settings()));
        let application_service = applications.start().await?;
        let applications_pool = lazy_pool(&applications.settings.database)?;

        let sink = NotificationSink::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let sink_url = format!("http://{}", sink.address());
        let sink = Running::spawn(|shutdown| tokio::spawn(sink.run_until_stopped(shutdown)));

        let process_database = TestDatabase::fresh();
        let mut process_settings = ProcessSettings::for_tests(
            process_database.url(),
            &format!("http://{}", application_service.grpc_address),
            broker.settings(),
        );
        process_settings.identity = applications.settings.identity.clone();
        process_settings.workers = tuning.workers;
        process_settings.prefetch = tuning.prefetch;
        process_settings.default_monthly_budget =
            Money::from_minor(MONTHLY_BUDGET_MINOR).context("a positive amount")?;
        process_settings.notifier = notifier_settings(&sink_url)?;
        let process_pool = lazy_pool(&process_settings.database)?;
        Ok(Self {
            application_service,
            applications_pool,
            process_pool,
            process: None,
            sink,
            process_settings,
            applications,
            _process_database: process_database,
            broker,
        })
    }

    /// The virtual host everything publishes to and consumes from.
    pub fn broker(&self) -> &TestBroker {
        &self.broker
    }

    /// Starts business-process (creating and migrating its database the first time).
    pub async fn start_process(&mut self) -> anyhow::Result<()> {
        let application = ProcessApplication::build(self.process_settings.clone())
            .await
            .context("business-process does not start")?;
        let relay_stats = application.relay_stats();
        let service =
            Running::spawn(|shutdown| tokio::spawn(application.run_until_stopped(shutdown)));
        self.process = Some(RunningProcess {
            service,
            relay_stats,
        });
        Ok(())
    }

    /// Stops business-process, letting its in-flight steps finish.
    pub async fn stop_process(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process.service.stop("business-process").await?;
        }
        Ok(())
    }

    /// Waits until business-process's relay has published `count` report jobs, or `limit`
    /// passes; returns how many it had published.
    pub async fn wait_for_report_jobs(&mut self, count: u64, limit: Duration) -> u64 {
        let Some(process) = self.process.as_mut() else {
            return 0;
        };
        let stats = &mut process.relay_stats;
        // A timeout or a relay that stopped both leave the count where it is.
        let _ = tokio::time::timeout(limit, stats.wait_for(|stats| stats.published >= count)).await;
        stats.borrow().published
    }

    /// Stops everything in order; the databases are dropped and the virtual host deleted when
    /// `self` goes.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_process().await?;
        self.sink.stop("the notification sink").await?;
        self.applications_pool.close().await;
        self.process_pool.close().await;
        self.application_service.stop().await?;
        drop(self.applications);
        Ok(())
    }
}

/// Production defaults (timeouts, retries, breaker, delivery pace), sending to `url`.
fn notifier_settings(url: &str) -> anyhow::Result<NotifierSettings> {
    let mut settings = NotifierSettings::for_tests(None);
    settings.url = Some(url.parse().context("the sink's URL")?);
    settings.timeout = Duration::from_secs(5);
    settings.retry = RetrySettings::default();
    settings.breaker = BreakerSettings::default();
    settings.delivery = DeliverySettings::default();
    settings.validate()?;
    Ok(settings)
}
