//! Building and running report-service: binds its listener (port 0 picks a free one), then runs
//! the report worker, the outbox relay and HTTP (API, downloads, WebSocket) until told to stop.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use zayavki_common::{
    database::{ensure_database_exists, lazy_pool},
    outbox::{Relay, RelayStats},
    shutdown::{CancellationToken, finish_within},
};
use zayavki_identity::{Throttle, TokenMinter, TokenVerifier};

use crate::{
    build::Builder,
    clients::ExportClient,
    config::{APP_ID, Settings},
    content::ContentStore,
    event_log, http,
    state::AppState,
    storage::MIGRATOR,
    worker::{Worker, WorkerSettings},
    ws::WebSocketHub,
};
use zayavki_common::amqp::{
    ConsumerSettings, topology, topology::REPORT_SERVICE_APPLICATION_EVENTS,
};

pub struct Application {
    state: AppState,
    throttle: Throttle,
    minter: TokenMinter,
    relay: Relay,
    http_listener: TcpListener,
}

impl Application {
    /// Creates the database if needed, applies migrations, opens the file store and binds the
    /// listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        zayavki_common::metrics::install();
        crate::worker::describe_metrics();
        let verifier =
            TokenVerifier::new(&settings.identity).context("cannot set up token verification")?;
        let minter = TokenMinter::new(&settings.identity).context(
            "report-service mints service tokens for application-service: \
             it needs JWT_SECRET or JWT_PRIVATE_KEY_FILE",
        )?;
        let throttle =
            Throttle::new(settings.throttle.clone()).context("cannot set up rate limits")?;
        let content = ContentStore::open(&settings.storage)?;
        std::fs::create_dir_all(&settings.work_dir).with_context(|| {
            format!(
                "cannot create the work directory {}",
                settings.work_dir.display()
            )
        })?;
        ensure_database_exists(&settings.database).await?;
        let pool = lazy_pool(&settings.database)?;
        MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;
        let http_listener = TcpListener::bind(settings.http_address)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", settings.http_address))?;
        let relay = Relay::new(
            settings.database.clone(),
            pool.clone(),
            settings.relay.clone(),
        );
        Ok(Self {
            state: AppState {
                pool,
                verifier,
                download_secret: settings.download_secret.clone(),
                content,
                websocket: WebSocketHub::new(
                    settings.websocket.clone(),
                    settings.event_log.batch_size as usize,
                ),
                settings: Arc::new(settings),
            },
            throttle,
            minter,
            relay,
            http_listener,
        })
    }

    pub fn http_address(&self) -> SocketAddr {
        self.http_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// What the outbox relay (report events) has done so far.
    pub fn relay_stats(&self) -> watch::Receiver<RelayStats> {
        self.relay.subscribe()
    }

    /// How many WebSocket connections are open on this replica, as it changes.
    pub fn websocket_connections(&self) -> watch::Receiver<usize> {
        self.state.websocket.connections()
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight work finish within the grace
    /// period. A report still being built then is abandoned unacknowledged: the broker delivers
    /// its job again, to this or another replica.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            state,
            throttle,
            minter,
            relay,
            http_listener,
        } = self;
        let settings = state.settings.clone();
        tracing::info!(http = %http_listener.local_addr()?, "report-service listening");
        let mut background: JoinSet<()> = JoinSet::new();

        // Background loops: the report worker; the WebSocket's consumer and log follower.
        background.spawn(report_worker(&state, &settings, minter)?.run(shutdown.clone()));
        event_log::spawn_tasks(
            &mut background,
            &state.pool,
            state.websocket.feed(),
            &settings.event_log,
            ConsumerSettings {
                amqp: settings.amqp.clone(),
                queue: REPORT_SERVICE_APPLICATION_EVENTS.to_owned(),
                consumer_name: format!("{APP_ID} ({REPORT_SERVICE_APPLICATION_EVENTS})"),
                prefetch: 64,
                max_backoff: settings.max_reconnect_backoff,
                lanes: 1,
            },
            &shutdown,
        );
        background.spawn({
            let websocket = state.websocket.clone();
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                websocket.close_all();
            }
        });
        let relay = relay.spawn(shutdown.clone());

        let http = axum::serve(http_listener, http::router(state, throttle)?)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let outcome = finish_within(
            async { http.await.context("HTTP server failed") },
            shutdown.clone(),
            settings.shutdown_grace,
        )
        .await;
        shutdown.cancel();
        let stopped = async {
            while background.join_next().await.is_some() {}
            relay.task.await.ok();
        };
        if tokio::time::timeout(settings.shutdown_grace, stopped)
            .await
            .is_err()
        {
            tracing::warn!("background work did not stop in time");
        }
        tracing::info!("report-service stopped");
        outcome.unwrap_or(Ok(()))
    }
}

/// The report worker, building with application-service's export and storing into the
/// configured store.
fn report_worker(
    state: &AppState,
    settings: &Settings,
    minter: TokenMinter,
) -> anyhow::Result<Worker> {
    let export = ExportClient::new(&settings.application_service_url, minter)?;
    let builder = Builder::new(
        export,
        settings.work_dir.clone(),
        settings.xlsx_rows_per_sheet,
    );
    Ok(Worker::new(
        state.pool.clone(),
        settings.database.connect_options()?,
        builder,
        state.content.clone(),
        WorkerSettings {
            amqp: settings.amqp.clone(),
            consumer_name: format!("{APP_ID} ({})", topology::REPORTS_JOBS),
            prefetch: settings.prefetch,
            max_attempts: settings.max_attempts,
            max_backoff: settings.max_reconnect_backoff,
            progress_interval: settings.progress_interval,
        },
    ))
}
