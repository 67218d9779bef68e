//! The state file, `zayavki.json` in the state directory: the supervisor's process id, the
//! addresses, and each service's process id, starts and readiness. It is rewritten (whole, by
//! rename) on every change, and removed when the run ends.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::addresses::Addresses;

const STATE_FILE: &str = "zayavki.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    /// The supervisor's process id.
    pub pid: u32,
    pub addresses: Addresses,
    pub services: Vec<ServiceState>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    pub name: String,
    /// The running process, if any.
    pub pid: Option<u32>,
    /// How many times it was started: 1 until it is restarted.
    pub starts: u32,
    /// Whether it answered its readiness check since it was last started.
    pub ready: bool,
}

impl RunState {
    pub fn new(addresses: Addresses, services: impl IntoIterator<Item = String>) -> Self {
        Self {
            pid: std::process::id(),
            addresses,
            services: services
                .into_iter()
                .map(|name| ServiceState {
                    name,
                    pid: None,
                    starts: 0,
                    ready: false,
                })
                .collect(),
        }
    }

    pub fn service(&self, name: &str) -> Option<&ServiceState> {
        self.services.iter().find(|service| service.name == name)
    }

    /// The services that have not answered their readiness check since they were last started.
    pub fn not_ready(&self) -> Vec<&str> {
        self.services
            .iter()
            .filter(|service| !service.ready)
            .map(|service| service.name.as_str())
            .collect()
    }

    /// One line per service: its process and whether it is ready.
    pub fn render_services(&self) -> String {
        let mut text = String::new();
        for service in &self.services {
            let process = service
                .pid
                .map_or_else(|| "not running".to_owned(), |pid| format!("pid {pid}"));
            let readiness = if service.ready { "ready" } else { "not ready" };
            text.push_str(&format!(
                "{:<20} {process}, {readiness}, started {} time(s)\n",
                service.name, service.starts
            ));
        }
        text
    }
}

#[derive(Clone, Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(STATE_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recorded state; `None` when there is none or it cannot be read.
    pub fn read(&self) -> Option<RunState> {
        let text = std::fs::read(&self.path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Replaces the file at once, so a reader never sees half of it.
    pub async fn write(&self, state: &RunState) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        let partial = self.path.with_extension("json.partial");
        tokio::fs::write(&partial, text).await?;
        tokio::fs::rename(&partial, &self.path).await
    }

    pub fn remove(&self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove the state file");
        }
    }
}
