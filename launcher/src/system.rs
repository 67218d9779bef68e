//! Every service of the system in one process.

use std::net::SocketAddr;

use application_service::{config::Settings as ApplicationSettings, startup::Application};
use zayavki_common::shutdown::CancellationToken;

/// The services, built (listeners bound) and ready to run.
pub struct System {
    application: Application,
}

impl System {
    pub async fn build(application_settings: ApplicationSettings) -> anyhow::Result<Self> {
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
