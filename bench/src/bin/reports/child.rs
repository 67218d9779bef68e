//! The `report-service` binary as a child process, configured by environment like the settings
//! the in-process instances use, so that its peak resident memory (`VmHWM`) is its own.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::system::SECRET;

const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Where `cargo build --release -p report-service` puts the binary: beside this benchmark's.
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let current = std::env::current_exe().context("cannot find the benchmark's own binary")?;
    let directory = current
        .parent()
        .context("the benchmark's binary has no directory")?;
    Ok(directory.join("report-service"))
}

/// What the child is told through its environment.
#[derive(Clone, Debug)]
pub struct ChildEnvironment {
    pub database_url: String,
    pub application_service_url: String,
    pub amqp_url: String,
    pub storage_dir: PathBuf,
    pub work_dir: PathBuf,
}

pub struct ReportServiceProcess {
    child: Child,
    pid: u32,
}

impl ReportServiceProcess {
    /// Starts `binary` as `environment` says.
    pub fn spawn(binary: &Path, environment: &ChildEnvironment) -> anyhow::Result<Self> {
        anyhow::ensure!(
            binary.is_file(),
            "{} is missing: run `cargo build --release -p report-service` first",
            binary.display()
        );
        let child = Command::new(binary)
            .env("REPORT_DATABASE_URL", &environment.database_url)
            .env("REPORT_HTTP_ADDR", "127.0.0.1:0")
            .env(
                "APPLICATION_SERVICE_URL",
                &environment.application_service_url,
            )
            .env("AMQP_URL", &environment.amqp_url)
            .env("REPORT_STORAGE", &environment.storage_dir)
            .env("REPORT_WORK_DIR", &environment.work_dir)
            .env("JWT_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the child exited at once")?;
        Ok(Self { child, pid })
    }

    /// The child's peak resident set so far (`VmHWM`).
    pub fn peak_resident_bytes(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmHWM:")
    }

    /// The child's resident set now (`VmRSS`).
    pub fn resident_bytes(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmRSS:")
    }

    /// A size in `/proc/<pid>/status`, given in kB there.
    fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("cannot read the child's status")?;
        let kibibytes: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .with_context(|| format!("no {field} in the child's status"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kibibytes * 1024)
    }

    /// Fails when the child has already exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => anyhow::bail!("report-service exited early: {status}"),
            None => Ok(()),
        }
    }

    /// SIGTERM, then waits for the graceful stop (SIGKILL after [`STOP_LIMIT`]).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await?;
        if signalled.success()
            && let Ok(status) = tokio::time::timeout(STOP_LIMIT, self.child.wait()).await
        {
            status?;
            return Ok(());
        }
        self.child.start_kill()?;
        self.child.wait().await?;
        anyhow::bail!("report-service did not stop on SIGTERM within {STOP_LIMIT:?}")
    }
}
