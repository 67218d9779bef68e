//! Every service of the system in one process.

use std::net::SocketAddr;

use application_service::{config::Settings as ApplicationSettings, startup::Application};
use zayavki_common::{amqp::topology::declare_topology_at, shutdown::CancellationToken};

/// The services, built (listeners bound) and ready to run.
pub struct System {
    application: Application,
}

impl System {
    /// Declares the RabbitMQ topology (when events are published at all), then builds every
    /// service. A broker that is down is not fatal: the services keep their events in their
    /// outboxes and declare the topology themselves when they reach it.
    pub async fn build(application_settings: ApplicationSettings) -> anyhow::Result<Self> {
        if let Some(events) = &application_settings.events {
            match declare_topology_at(&events.amqp, "zayavki start").await {
                Ok(()) => tracing::info!("rabbitmq topology declared"),
                Err(error) => tracing::warn!(
                    error = %format!("{error:#}"),
                    "rabbitmq is not reachable; events wait in the outbox until it is"
                ),
            }
        }
        Ok(Self {
            application: Application::build(application_settings).await?,
        })
    }

    pub fn application_grpc_address(&self) -> SocketAddr {
        self.application.grpc_address()
    }

    pub fn application_http_address(&self) -> SocketAddr {
        self.application.http_address()
    }

    /// Runs until `shutdown` is cancelled; stops everything when any service stops.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.application.run_until_stopped(shutdown).await
    }
}
