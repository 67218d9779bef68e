//! One run of one service's process: started in a process group of its own with its output
//! forwarded, and stopped with SIGTERM, then SIGKILL when it outlasts its grace.

use std::{
    io,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::{process::Command, task::JoinHandle};

use super::output::{Output, Stream};

/// How long the last lines of a stopped child may take to be forwarded.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// How to start one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on top of the supervisor's own environment, which the child inherits.
    pub env: Vec<(String, String)>,
    /// Answers a success status once the service is ready.
    pub ready_url: String,
}

pub struct RunningChild {
    process: tokio::process::Child,
    pid: u32,
    started: Instant,
    forwarders: Vec<JoinHandle<()>>,
}

/// How a child stopped when it was asked to.
#[derive(Debug)]
pub enum Stopped {
    /// It exited within its grace.
    Gracefully(ExitStatus),
    /// It was killed after its grace.
    Killed,
}

impl RunningChild {
    pub fn spawn(spec: &ChildSpec, output: &Output) -> io::Result<Self> {
        let mut process = Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Ctrl-C in a terminal signals the foreground process group. Children in groups of
            // their own leave it to the supervisor, which then stops them, instead of seeing
            // them all exit at once and restarting them.
            .process_group(0)
            // Should the supervisor itself fail, its children go with it.
            .kill_on_drop(true)
            .spawn()?;
        let pid = process
            .id()
            .ok_or_else(|| io::Error::other("the process ended before it could be watched"))?;
        let mut forwarders = Vec::with_capacity(2);
        if let Some(stdout) = process.stdout.take() {
            forwarders.push(output.forward(&spec.name, Stream::Stdout, stdout));
        }
        if let Some(stderr) = process.stderr.take() {
            forwarders.push(output.forward(&spec.name, Stream::Stderr, stderr));
        }
        Ok(Self {
            process,
            pid,
            started: Instant::now(),
            forwarders,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn ran_for(&self) -> Duration {
        self.started.elapsed()
    }

    /// Resolves when the process exits.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.process.wait().await
    }

    /// SIGTERM (the services then shut down gracefully), and SIGKILL if it has not exited after
    /// `grace`.
    pub async fn stop(&mut self, grace: Duration) -> io::Result<Stopped> {
        self.signal(Signal::TERM);
        if let Ok(status) = tokio::time::timeout(grace, self.process.wait()).await {
            return status.map(Stopped::Gracefully);
        }
        self.signal(Signal::KILL);
        self.process.wait().await.map(|_| Stopped::Killed)
    }

    /// Waits, briefly, for the last lines of the exited process to be forwarded.
    pub async fn finish_output(self) {
        for forwarder in self.forwarders {
            drop(tokio::time::timeout(OUTPUT_DRAIN, forwarder).await);
        }
    }

    /// Signals the child's process group, which is its own process id. The child has not been
    /// reaped yet (only `wait` reaps it), so the id cannot belong to anyone else.
    fn signal(&self, signal: Signal) {
        let Some(group) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return;
        };
        if let Err(error) = kill_process_group(group, signal) {
            // ESRCH: it exited meanwhile, and `wait` will tell.
            tracing::debug!(%error, pid = self.pid, "cannot signal the process group");
        }
    }
}
