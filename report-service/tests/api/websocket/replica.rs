//! A report-service replica in this process: several run on one database, as in production.

use std::{net::SocketAddr, time::Duration};

use report_service::{config::Settings, startup::Application};
use tokio::{sync::watch, task::JoinHandle};
use zayavki_common::shutdown::CancellationToken;

use crate::helpers::PATIENCE;

pub struct Replica {
    pub address: SocketAddr,
    /// Open WebSocket connections on this replica.
    pub connections: watch::Receiver<usize>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Replica {
    pub async fn start(settings: &Settings) -> Self {
        let application = Application::build(settings.clone())
            .await
            .expect("report-service starts");
        let address = application.http_address();
        let connections = application.websocket_connections();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(application.run_until_stopped(shutdown.clone()));
        Self {
            address,
            connections,
            shutdown,
            task: Some(task),
        }
    }

    /// Waits until exactly `count` WebSocket connections are open here.
    pub async fn wait_for_connections(&mut self, count: usize) {
        tokio::time::timeout(PATIENCE, self.connections.wait_for(|open| *open == count))
            .await
            .unwrap_or_else(|_| panic!("never {count} open connections"))
            .expect("the replica runs");
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("stops within the grace period")
                .expect("task completes")
                .expect("ends cleanly");
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
