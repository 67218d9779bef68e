//! Building and running the service: binds its listeners (port 0 picks a free one, so tests and
//! the launcher can start several), then serves gRPC and REST until told to stop.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::watch};
use tonic::transport::server::TcpIncoming;
use tonic_health::{ServingStatus, server::HealthReporter};
use tower_http::cors::CorsLayer;
use zayavki_common::{
    database::{self, is_reachable},
    listen::listen,
    metrics::{GrpcMethods, RequestMetricsLayer},
    outbox::{Relay, RelayStats},
    shutdown::{CancellationToken, finish_within},
    telemetry::TraceContextLayer,
};
use zayavki_identity::{GrpcAuthLayer, GrpcThrottle, Throttle, TokenVerifier};
use zayavki_proto::applications::v1::{
    application_export_server::ApplicationExportServer,
    application_lifecycle_server::ApplicationLifecycleServer,
    application_service_server::ApplicationServiceServer,
};

use crate::{
    config::Settings,
    grpc::{applications::ApplicationGrpc, export::ExportGrpc, lifecycle::LifecycleGrpc},
    http::{self as rest, HttpState},
    indexing,
    service::Applications,
    storage::{MIGRATOR, idempotency},
};

/// Services whose health `grpc.health.v1.Health` reports.
const SERVICE_NAMES: [&str; 4] = [
    "",
    "applications.v1.ApplicationService",
    "applications.v1.ApplicationLifecycle",
    "applications.v1.ApplicationExport",
];
/// HTTP/2 flow-control windows for what callers send. The protocol's default (64 KiB) makes a
/// batch of a thousand applications (a few hundred KiB) wait for several window updates on
/// its way in; with these, one batch arrives in one go.
const GRPC_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
const GRPC_CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(2);
const IDEMPOTENCY_CLEANUP_INTERVAL: Duration = Duration::from_secs(15 * 60);

pub struct Application {
    settings: Settings,
    applications: Applications,
    verifier: TokenVerifier,
    throttle: Throttle,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    /// Publishes the outbox to RabbitMQ; `None` when no broker is configured.
    relay: Option<Relay>,
}

impl Application {
    /// Creates the database if needed, applies migrations and binds both listeners.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        // Before any request is served: metrics recorded without a recorder are lost.
        zayavki_common::metrics::install();
        let verifier =
            TokenVerifier::new(&settings.identity).context("cannot set up token verification")?;
        let throttle =
            Throttle::new(settings.throttle.clone()).context("cannot set up rate limits")?;
        let pool = database::prepare(&settings.database, &MIGRATOR).await?;
        let grpc_listener = listen(settings.grpc_address, "gRPC").await?;
        let http_listener = listen(settings.http_address, "HTTP").await?;
        let search_index =
            indexing::open_or_rebuild(&settings.search_index_dir).with_context(|| {
                format!(
                    "cannot open the search index at {}",
                    settings.search_index_dir.display()
                )
            })?;
        let relay = settings.events.clone().map(|relay_settings| {
            Relay::new(settings.database.clone(), pool.clone(), relay_settings)
        });
        Ok(Self {
            relay,
            applications: Applications::new(
                pool,
                search_index,
                settings.read_queries,
                settings.export_concurrency,
            ),
            verifier,
            throttle,
            settings,
            grpc_listener,
            http_listener,
        })
    }

    /// What the outbox relay has done so far; `None` when it does not run.
    pub fn relay_stats(&self) -> Option<watch::Receiver<RelayStats>> {
        self.relay.as_ref().map(Relay::subscribe)
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
        self.applications.pool()
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish within the
    /// configured grace period.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            settings,
            applications,
            verifier,
            throttle,
            grpc_listener,
            http_listener,
            relay,
        } = self;
        tracing::info!(grpc = %grpc_listener.local_addr()?, http = %http_listener.local_addr()?, "application-service listening");

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        for name in SERVICE_NAMES {
            health_reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        let background = tokio::spawn(run_background(
            applications.clone(),
            health_reporter,
            settings.idempotency_retention,
            shutdown.clone(),
        ));

        let relay = relay.map(|relay| relay.spawn(shutdown.clone()));

        let search_sync = tokio::spawn(indexing::run_sync(
            applications.pool().clone(),
            applications.search_index().clone(),
            applications.take_change_receiver().await,
            shutdown.clone(),
        ));

        let (reflection_v1, reflection_v1alpha) = zayavki_proto::reflection::services()?;
        let grpc = tonic::transport::Server::builder()
            .accept_http1(true)
            .initial_stream_window_size(GRPC_STREAM_WINDOW_BYTES)
            .initial_connection_window_size(GRPC_CONNECTION_WINDOW_BYTES)
            // First, so every request (refused ones too) is handled in the caller's trace.
            .layer(TraceContextLayer)
            .layer(cors_layer(&settings.cors_allowed_origins)?)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(RequestMetricsLayer::grpc(grpc_methods()?))
            .layer(GrpcAuthLayer::new(verifier.clone()))
            .layer(tonic::service::InterceptorLayer::new(GrpcThrottle::new(
                throttle.clone(),
            )))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(ApplicationServiceServer::new(ApplicationGrpc::new(
                applications.clone(),
                throttle.clone(),
            )))
            .add_service(ApplicationLifecycleServer::new(LifecycleGrpc::new(
                applications.clone(),
            )))
            .add_service(ApplicationExportServer::new(ExportGrpc::new(
                applications.clone(),
            )))
            // Our own listener bypasses the builder's TCP_NODELAY; without it small answers
            // wait for delayed ACKs (~40 ms each).
            .serve_with_incoming_shutdown(
                TcpIncoming::from(grpc_listener).with_nodelay(Some(true)),
                shutdown.clone().cancelled_owned(),
            );

        let router = rest::router(HttpState {
            applications,
            verifier,
            throttle,
            body_limit_bytes: settings.http_body_limit_bytes,
            cors_allowed_origins: settings.cors_allowed_origins.clone(),
        })?;
        let http = axum::serve(
            http_listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
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
        background.abort();
        search_sync.abort();
        if let Some(relay) = relay {
            // The relay stops at the shutdown signal, after the confirms in flight.
            if tokio::time::timeout(settings.shutdown_grace, relay.task)
                .await
                .is_err()
            {
                tracing::warn!("outbox relay did not stop in time");
            }
        }
        tracing::info!("application-service stopped");
        outcome.unwrap_or(Ok(()))
    }
}

/// Health follows the database; expired idempotency keys are swept.
async fn run_background(
    applications: Applications,
    health: HealthReporter,
    idempotency_retention: Duration,
    shutdown: CancellationToken,
) {
    let mut health_tick = tokio::time::interval(HEALTH_CHECK_INTERVAL);
    let mut cleanup_tick = tokio::time::interval(IDEMPOTENCY_CLEANUP_INTERVAL);
    let mut serving = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                for name in SERVICE_NAMES {
                    health.set_service_status(name, ServingStatus::NotServing).await;
                }
                return;
            }
            _ = health_tick.tick() => {
                let reachable = is_reachable(applications.pool()).await;
                if reachable != serving {
                    serving = reachable;
                    let status = if reachable { ServingStatus::Serving } else { ServingStatus::NotServing };
                    tracing::info!(serving, "database reachability changed");
                    for name in SERVICE_NAMES {
                        health.set_service_status(name, status).await;
                    }
                }
            }
            _ = cleanup_tick.tick() => {
                match idempotency::delete_expired(applications.pool(), idempotency_retention).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "expired idempotency keys removed"),
                    Err(error) => tracing::warn!(error = %error, "cannot remove expired idempotency keys"),
                }
            }
        }
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

/// CORS for browsers: gRPC-Web needs its status headers exposed.
fn cors_layer(origins: &[String]) -> anyhow::Result<CorsLayer> {
    zayavki_common::cors::cors_layer(
        origins,
        &[
            "content-type",
            "authorization",
            "x-grpc-web",
            "x-user-agent",
            "grpc-timeout",
            "idempotency-key",
        ],
        &[
            "grpc-status",
            "grpc-message",
            "grpc-status-details-bin",
            "location",
            "retry-after",
        ],
    )
}
