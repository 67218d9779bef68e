//! Building and running business-process: binds its listeners (port 0 picks a free one), then
//! runs the consumers, the process driver, the deadlines, the notification delivery, the outbox
//! relay, gRPC and HTTP until told to stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    net::TcpListener,
    sync::{Notify, watch},
    task::JoinSet,
};
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use zayavki_common::{
    amqp::{ConsumerSettings, run_consumer, topology},
    database::{self, is_reachable},
    listen::listen,
    metrics::{GrpcMethods, RequestMetricsLayer},
    outbox::{Relay, RelayStats},
    shutdown::{CancellationToken, finish_within},
    telemetry::TraceContextLayer,
};
use zayavki_identity::{GrpcAuthLayer, GrpcThrottle, Throttle, TokenMinter, TokenVerifier};
use zayavki_proto::process::v1::business_process_service_server::BusinessProcessServiceServer;

use crate::{
    clients::applications::ApplicationsClient,
    config::{APP_ID, Settings},
    deadlines,
    driver::{Driver, Policy},
    events::{application_events::ApplicationEventHandler, report_events::ReportEventHandler},
    grpc::process::ProcessGrpc,
    http::{self as rest, HttpState},
    notifier,
    service::{Processes, ServicePolicy},
    storage::{MIGRATOR, processes},
};

const SERVICE_NAMES: [&str; 2] = ["", "process.v1.BusinessProcessService"];
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Application events handled at a time, in lanes by application (each application's events in
/// order): the database round trips and commits of different applications overlap.
const APPLICATION_EVENT_LANES: usize = 8;

pub struct Application {
    settings: Settings,
    pool: PgPool,
    verifier: TokenVerifier,
    throttle: Throttle,
    minter: TokenMinter,
    relay: Relay,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
}

impl Application {
    /// Creates the database if needed, applies migrations and binds both listeners.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        zayavki_common::metrics::install();
        let verifier =
            TokenVerifier::new(&settings.identity).context("cannot set up token verification")?;
        let minter = TokenMinter::new(&settings.identity).context(
            "business-process mints service tokens for application-service: \
             it needs JWT_SECRET or JWT_PRIVATE_KEY_FILE",
        )?;
        let throttle =
            Throttle::new(settings.throttle.clone()).context("cannot set up rate limits")?;
        let pool = database::prepare(&settings.database, &MIGRATOR).await?;
        let grpc_listener = listen(settings.grpc_address, "gRPC").await?;
        let http_listener = listen(settings.http_address, "HTTP").await?;
        let relay = Relay::new(
            settings.database.clone(),
            pool.clone(),
            settings.relay.clone(),
        );
        Ok(Self {
            settings,
            pool,
            verifier,
            throttle,
            minter,
            relay,
            grpc_listener,
            http_listener,
        })
    }

    pub fn grpc_address(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn http_address(&self) -> SocketAddr {
        self.http_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// What the outbox relay (report jobs) has done so far.
    pub fn relay_stats(&self) -> watch::Receiver<RelayStats> {
        self.relay.subscribe()
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight work finish within the grace
    /// period.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            settings,
            pool,
            verifier,
            throttle,
            minter,
            relay,
            grpc_listener,
            http_listener,
        } = self;
        tracing::info!(grpc = %grpc_listener.local_addr()?, http = %http_listener.local_addr()?, "business-process listening");
        let mut background = JoinSet::new();

        let (process_work, timers_set) = wake_ups(&pool, &shutdown, &mut background);
        let applications = ApplicationsClient::new(&settings.application_service_url, minter)?;
        let driver = Driver::new(
            pool.clone(),
            applications,
            Policy {
                auto_approve_limit: settings.auto_approve_limit,
                default_monthly_budget: settings.default_monthly_budget,
                decision_timeout: settings.decision_timeout,
                purchase_report_format: settings.purchase_report_format,
                max_retry_backoff: settings.max_retry_backoff,
            },
        );
        for _ in 0..settings.workers {
            background.spawn(
                driver
                    .clone()
                    .run_worker(process_work.clone(), shutdown.clone()),
            );
        }
        background.spawn(deadlines::run(pool.clone(), timers_set, shutdown.clone()));
        background.spawn(run_consumer(
            consumer_settings(
                &settings,
                topology::BUSINESS_PROCESS_APPLICATION_EVENTS,
                APPLICATION_EVENT_LANES,
            ),
            ApplicationEventHandler::new(pool.clone(), process_work.clone()),
            shutdown.clone(),
        ));
        background.spawn(run_consumer(
            consumer_settings(&settings, topology::BUSINESS_PROCESS_REPORT_EVENTS, 1),
            ReportEventHandler::new(pool.clone()),
            shutdown.clone(),
        ));
        let (delivery, notifier_status) =
            notifier::spawn_delivery(pool.clone(), settings.notifier.clone(), shutdown.clone());
        let relay = relay.spawn(shutdown.clone());

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        background.spawn(report_health(
            pool.clone(),
            health_reporter,
            shutdown.clone(),
        ));

        let (reflection_v1, reflection_v1alpha) = zayavki_proto::reflection::services()?;
        let processes = Processes::new(
            pool.clone(),
            ServicePolicy {
                default_monthly_budget: settings.default_monthly_budget,
            },
        );
        let grpc = tonic::transport::Server::builder()
            .accept_http1(true)
            // First, so every request (refused ones too) is handled in the caller's trace.
            .layer(TraceContextLayer)
            .layer(zayavki_common::cors::cors_layer(
                &settings.cors_allowed_origins,
                &[
                    "content-type",
                    "authorization",
                    "x-grpc-web",
                    "x-user-agent",
                    "grpc-timeout",
                ],
                &[
                    "grpc-status",
                    "grpc-message",
                    "grpc-status-details-bin",
                    "retry-after",
                ],
            )?)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(RequestMetricsLayer::grpc(grpc_methods()?))
            .layer(GrpcAuthLayer::new(verifier))
            .layer(tonic::service::InterceptorLayer::new(GrpcThrottle::new(
                throttle,
            )))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(BusinessProcessServiceServer::new(ProcessGrpc::new(
                processes,
            )))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(grpc_listener).with_nodelay(Some(true)),
                shutdown.clone().cancelled_owned(),
            );
        let http = axum::serve(
            http_listener,
            rest::router(HttpState {
                pool: pool.clone(),
                notifier: notifier_status,
            }),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());

        let servers = async {
            let (grpc, http) = tokio::join!(grpc, http);
            grpc.context("gRPC server failed")?;
            http.context("HTTP server failed")?;
            anyhow::Ok(())
        };
        let outcome = finish_within(servers, shutdown.clone(), settings.shutdown_grace).await;
        shutdown.cancel();
        let stopped = async {
            while background.join_next().await.is_some() {}
            delivery.await.ok();
            relay.task.await.ok();
        };
        if tokio::time::timeout(settings.shutdown_grace, stopped)
            .await
            .is_err()
        {
            tracing::warn!("background work did not stop in time");
        }
        tracing::info!("business-process stopped");
        outcome.unwrap_or(Ok(()))
    }
}

fn consumer_settings(settings: &Settings, queue: &str, lanes: usize) -> ConsumerSettings {
    ConsumerSettings {
        amqp: settings.amqp.clone(),
        queue: queue.to_owned(),
        consumer_name: format!("{APP_ID} ({queue})"),
        prefetch: settings.prefetch,
        max_backoff: settings.max_retry_backoff.max(Duration::from_secs(1)),
        lanes,
    }
}

/// Wakes the loops on `NOTIFY process_work` (one sleeping driver worker each) and `NOTIFY
/// timers` (a counter the deadline loop watches). After the listener (re)connects, when one may
/// have been missed, every loop is woken.
fn wake_ups(
    pool: &PgPool,
    shutdown: &CancellationToken,
    background: &mut JoinSet<()>,
) -> (Arc<Notify>, watch::Receiver<u64>) {
    let work = Arc::new(Notify::new());
    let (timers, timers_receiver) = watch::channel(0_u64);
    let pool = pool.clone();
    let shutdown = shutdown.clone();
    let listener_work = work.clone();
    background.spawn(async move {
        while !shutdown.is_cancelled() {
            tokio::select! {
                () = shutdown.cancelled() => break,
                outcome = forward_notifications(&pool, &listener_work, &timers) => {
                    if let Err(error) = outcome {
                        tracing::warn!(error = %format!("{error:#}"), "cannot listen for process notifications");
                    }
                    wake_all(&listener_work, &timers);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    });
    (work, timers_receiver)
}

fn bump(sender: &watch::Sender<u64>) {
    sender.send_modify(|count| *count += 1);
}

fn wake_all(work: &Notify, timers: &watch::Sender<u64>) {
    work.notify_waiters();
    work.notify_one();
    bump(timers);
}

/// Listens until the connection fails.
async fn forward_notifications(
    pool: &PgPool,
    work: &Notify,
    timers: &watch::Sender<u64>,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([processes::WORK_CHANNEL, "timers"])
        .await?;
    wake_all(work, timers);
    loop {
        let notification = listener.recv().await?;
        match notification.channel() {
            "timers" => bump(timers),
            _ => work.notify_one(),
        }
    }
}

/// gRPC health follows the database.
async fn report_health(
    pool: PgPool,
    health: tonic_health::server::HealthReporter,
    shutdown: CancellationToken,
) {
    for name in SERVICE_NAMES {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    let mut tick = tokio::time::interval(HEALTH_CHECK_INTERVAL);
    let mut serving = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {
                let reachable = is_reachable(&pool).await;
                if reachable != serving {
                    serving = reachable;
                    let status = if reachable { ServingStatus::Serving } else { ServingStatus::NotServing };
                    for name in SERVICE_NAMES {
                        health.set_service_status(name, status).await;
                    }
                }
            }
        }
    }
    for name in SERVICE_NAMES {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
}

/// Every method this server answers, so that request metrics name those and no others.
fn grpc_methods() -> anyhow::Result<GrpcMethods> {
    GrpcMethods::from_descriptor_sets(&[
        zayavki_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ])
}
