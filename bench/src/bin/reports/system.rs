//! What the benchmark runs: a RabbitMQ virtual host of its own with the topology declared,
//! application-service on a database filled before it starts, a fresh database for
//! report-service, and report-service instances in this process started and stopped as the
//! phases need them.

use std::{path::Path, time::Duration};

use anyhow::Context;
use report_service::{config::Settings as ReportSettings, startup::Application as Reports};
use sqlx::{Executor, PgPool};
use tokio::task::JoinHandle;
use zayavki_bench::{
    prepared::{Prepared, PreparedService},
    search::corpus,
};
use zayavki_common::{amqp::declare_topology, database::lazy_pool, shutdown::CancellationToken};
use zayavki_identity::IdentityConfig;
use zayavki_search::SearchIndex;
use zayavki_testkit::{TestBroker, TestDatabase};

use crate::child::ChildEnvironment;

/// The HS256 secret every service and child process of the run shares.
pub const SECRET: &str = "reports-benchmark-secret-long-enough-for-hs256-0123456789";
/// The applicant whose few applications the small reports cover.
pub const SMALL_OWNER: &str = "bench-small-owner";
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Everything the benchmark started. Dropping it drops the databases and deletes the virtual
/// host.
pub struct System {
    pub application_service: PreparedService,
    pub applications_pool: PgPool,
    /// report-service's settings in this process; the child processes get the same by
    /// environment.
    pub report_settings: ReportSettings,
    pub loaded_rows: u64,
    /// The same database, broker, application-service and storage for a child process.
    pub child_environment: ChildEnvironment,
    instances: Vec<Running>,
    // Dropped last: the files, databases and the virtual host outlive the services using them.
    _files: tempfile::TempDir,
    _reports_database: TestDatabase,
    applications: Prepared,
    pub broker: TestBroker,
}

/// report-service running in this process on its own shutdown token.
struct Running {
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
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
    /// Loads `rows` generated applications plus `small_rows` of [`SMALL_OWNER`] before
    /// application-service starts, so that it serves exactly them and indexes none.
    pub async fn start(rows: usize, small_rows: i64, seed: u64) -> anyhow::Result<Self> {
        let broker = TestBroker::fresh()
            .await
            .context("cannot create a RabbitMQ virtual host (is the management API on 15672?)")?;
        let (connection, channel) = broker.channel().await?;
        declare_topology(&channel).await?;
        connection.close(0, "declared".into()).await.ok();

        let mut applications = Prepared::create("zayavki-reports-bench-").await?;
        applications.settings.identity = identity();
        let applications_pool = lazy_pool(&applications.settings.database)?;
        applications.migrate(&applications_pool).await?;
        let loaded = corpus::load(&applications_pool, rows, seed).await?;
        insert_small(&applications_pool, small_rows).await?;
        applications_pool
            .execute("VACUUM (ANALYZE) applications")
            .await?;
        println!(
            "setup: binary COPY of {} rows and {small_rows} small-report rows {:.1} s",
            loaded.rows,
            loaded.elapsed.as_secs_f64()
        );
        mark_rows_indexed(&applications_pool, &applications.index_dir).await?;
        let application_service = applications.start().await?;

        let files = tempfile::Builder::new()
            .prefix("zayavki-reports-bench-files-")
            .tempdir()?;
        let reports_database = TestDatabase::fresh();
        let mut report_settings = ReportSettings::for_tests(
            reports_database.url(),
            &format!("http://{}", application_service.grpc_address),
            broker.settings(),
            files.path().to_owned(),
        );
        report_settings.identity = identity();
        let child_environment = ChildEnvironment {
            database_url: reports_database.url().to_owned(),
            application_service_url: report_settings.application_service_url.clone(),
            amqp_url: broker.url(),
            storage_dir: files.path().join("reports"),
            work_dir: report_settings.work_dir.clone(),
        };
        Ok(Self {
            child_environment,
            application_service,
            applications_pool,
            report_settings,
            loaded_rows: loaded.rows + u64::try_from(small_rows)?,
            instances: Vec::new(),
            _files: files,
            _reports_database: reports_database,
            applications,
            broker,
        })
    }

    /// Starts one more report-service instance on the same database and virtual host.
    pub async fn start_report_service(&mut self) -> anyhow::Result<()> {
        let application = Reports::build(self.report_settings.clone())
            .await
            .context("report-service does not start")?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(application.run_until_stopped(shutdown.clone()));
        self.instances.push(Running {
            shutdown,
            task: Some(task),
        });
        Ok(())
    }

    pub fn report_services(&self) -> usize {
        self.instances.len()
    }

    /// Stops every report-service instance in this process, letting in-flight work finish.
    pub async fn stop_report_services(&mut self) -> anyhow::Result<()> {
        for mut instance in self.instances.drain(..) {
            instance.shutdown.cancel();
            if let Some(task) = instance.task.take() {
                tokio::time::timeout(STOP_LIMIT, task)
                    .await
                    .context("report-service did not stop in time")??
                    .context("report-service failed")?;
            }
        }
        Ok(())
    }

    /// Stops everything in order; the databases and the virtual host go with `self`.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_report_services().await?;
        self.applications_pool.close().await;
        self.application_service.stop().await?;
        drop(self.applications);
        Ok(())
    }
}

/// The development configuration with the run's shared secret.
pub fn identity() -> IdentityConfig {
    IdentityConfig::development().0.with_secret(SECRET)
}

/// `count` applications of [`SMALL_OWNER`], each with two items, filed a minute apart.
async fn insert_small(pool: &PgPool, count: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO applications (id, applicant, title, items, total_amount_minor, status, \
         applied_at, updated_at) \
         SELECT gen_random_uuid(), $1, 'Канцелярия, заявка № ' || n, \
         '[{\"name\": \"Бумага А4\", \"quantity\": 2, \"unit_price\": \"310.25\"}, \
           {\"name\": \"Ручки\", \"quantity\": 10, \"unit_price\": \"15.00\"}]'::jsonb, \
         77050, 'NEW', now() - n * interval '1 minute', now() - n * interval '1 minute' \
         FROM generate_series(1, $2) AS n",
    )
    .bind(SMALL_OWNER)
    .bind(count)
    .execute(pool)
    .await
    .context("cannot insert the small-report applications")?;
    Ok(())
}

/// Tells the (empty) search index that every row now in the table is indexed, so that the
/// service does not spend the run indexing them: reports never read the index.
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
