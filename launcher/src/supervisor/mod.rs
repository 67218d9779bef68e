//! Runs each service as a child process of its own: one that exits is logged and started again
//! after a pause that grows while it keeps failing; every start and readiness is recorded in the
//! run's state; `stop` asks every child to stop and kills those that outlast their grace.

mod backoff;
mod child;
mod output;
mod readiness;

use std::{io, process::ExitStatus, time::Duration};

use tokio::{sync::watch, task::JoinSet};
use zayavki_common::shutdown::CancellationToken;

pub use backoff::{RestartBackoff, RestartPolicy};
pub use child::ChildSpec;

use self::{
    child::{RunningChild, Stopped},
    output::{Output, OutputWriter},
    readiness::wait_until_ready,
};
use crate::instance::RunState;

/// Extra time, beyond the children's grace, for the supervisor's own bookkeeping at stop.
const STOP_MARGIN: Duration = Duration::from_secs(5);
const OUTPUT_PATIENCE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
pub struct SupervisorSettings {
    pub restart: RestartPolicy,
    /// How long a child may take to exit after SIGTERM before it is killed.
    pub stop_grace: Duration,
    /// How long a started child may take to become ready before the supervisor says it is not.
    pub ready_patience: Duration,
}

pub struct Supervisor {
    stop: CancellationToken,
    services: JoinSet<()>,
    state: watch::Receiver<RunState>,
    output: OutputWriter,
    settings: SupervisorSettings,
}

/// What one service's watcher needs.
struct Watch {
    index: usize,
    spec: ChildSpec,
    settings: SupervisorSettings,
    state: watch::Sender<RunState>,
    output: Output,
    client: reqwest::Client,
    stop: CancellationToken,
}

impl Supervisor {
    /// Starts every child in `specs`; `state` lists them in the same order.
    pub fn start(
        specs: Vec<ChildSpec>,
        state: watch::Sender<RunState>,
        settings: SupervisorSettings,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            specs.len() == state.borrow().services.len(),
            "every supervised service has a place in the state"
        );
        let output = OutputWriter::start()?;
        let client = reqwest::Client::builder().no_proxy().build()?;
        let stop = CancellationToken::new();
        let mut services = JoinSet::new();
        for (index, spec) in specs.into_iter().enumerate() {
            services.spawn(supervise(Watch {
                index,
                spec,
                settings,
                state: state.clone(),
                output: output.output(),
                client: client.clone(),
                stop: stop.clone(),
            }));
        }
        Ok(Self {
            stop,
            services,
            state: state.subscribe(),
            output,
            settings,
        })
    }

    /// Waits until every service is ready, for at most `patience`; otherwise answers those that
    /// are not.
    pub async fn wait_until_ready(&self, patience: Duration) -> Result<(), Vec<String>> {
        let mut state = self.state.clone();
        let all_ready = state.wait_for(|state| state.not_ready().is_empty());
        match tokio::time::timeout(patience, all_ready).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(self
                .state
                .borrow()
                .not_ready()
                .into_iter()
                .map(str::to_owned)
                .collect()),
        }
    }

    /// Stops every child: SIGTERM, then SIGKILL for those still running after the grace.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let patience = self.settings.stop_grace + STOP_MARGIN;
        let all_stopped = async { while self.services.join_next().await.is_some() {} };
        if tokio::time::timeout(patience, all_stopped).await.is_err() {
            tracing::error!("services still stopping after {patience:?}; leaving them");
            self.services.abort_all();
        }
        self.output.finish(OUTPUT_PATIENCE).await;
    }
}

/// Runs one service until the supervisor stops: starts it, watches it become ready, starts it
/// again after a pause when it exits.
async fn supervise(watch: Watch) {
    let name = watch.spec.name.as_str();
    let mut backoff = RestartBackoff::new(watch.settings.restart);
    loop {
        let mut child = match RunningChild::spawn(&watch.spec, &watch.output) {
            Ok(child) => child,
            Err(error) => {
                let delay = backoff.after_run(Duration::ZERO);
                tracing::error!(
                    service = name,
                    program = %watch.spec.program.display(),
                    %error,
                    "cannot start; trying again in {delay:?}"
                );
                if pause_unless_stopped(delay, &watch.stop).await {
                    return;
                }
                continue;
            }
        };
        let pid = child.pid();
        watch.record_start(pid);
        let Some(status) = watch.until_exit(&mut child).await else {
            watch.stop_child(&mut child).await;
            watch.record_exit();
            child.finish_output().await;
            return;
        };
        watch.record_exit();
        let delay = backoff.after_run(child.ran_for());
        let status = match status {
            Ok(status) => status.to_string(),
            Err(error) => format!("cannot be watched: {error}"),
        };
        child.finish_output().await;
        tracing::error!(
            service = name,
            pid,
            %status,
            "exited unexpectedly; starting it again in {delay:?}"
        );
        if pause_unless_stopped(delay, &watch.stop).await {
            return;
        }
    }
}

impl Watch {
    fn record_start(&self, pid: u32) {
        let mut starts = 0;
        self.state.send_modify(|state| {
            let service = &mut state.services[self.index];
            service.pid = Some(pid);
            service.starts += 1;
            service.ready = false;
            starts = service.starts;
        });
        if starts == 1 {
            tracing::info!(service = self.spec.name, pid, "started");
        } else {
            tracing::warn!(service = self.spec.name, pid, starts, "restarted");
        }
    }

    fn record_exit(&self) {
        self.state.send_modify(|state| {
            let service = &mut state.services[self.index];
            service.pid = None;
            service.ready = false;
        });
    }

    /// Watches the child become ready until it exits (its status) or the supervisor stops
    /// (`None`).
    async fn until_exit(&self, child: &mut RunningChild) -> Option<io::Result<ExitStatus>> {
        let (name, pid) = (self.spec.name.as_str(), child.pid());
        let patience = self.settings.ready_patience;
        let readiness = wait_until_ready(&self.client, &self.spec.ready_url, patience);
        tokio::pin!(readiness);
        let mut readiness_known = false;
        loop {
            tokio::select! {
                ready = &mut readiness, if !readiness_known => {
                    readiness_known = true;
                    if ready {
                        tracing::info!(service = name, pid, "ready");
                        self.state.send_modify(|state| state.services[self.index].ready = true);
                    } else {
                        tracing::warn!(
                            service = name,
                            pid,
                            url = %self.spec.ready_url,
                            "not ready after {patience:?}; still running, its lines say why"
                        );
                    }
                }
                status = child.wait() => return Some(status),
                () = self.stop.cancelled() => return None,
            }
        }
    }

    async fn stop_child(&self, child: &mut RunningChild) {
        let (name, pid) = (self.spec.name.as_str(), child.pid());
        let grace = self.settings.stop_grace;
        match child.stop(grace).await {
            Ok(Stopped::Gracefully(status)) => {
                tracing::info!(service = name, pid, %status, "stopped");
            }
            Ok(Stopped::Killed) => {
                tracing::warn!(
                    service = name,
                    pid,
                    "killed: still running {grace:?} after SIGTERM"
                );
            }
            Err(error) => tracing::error!(service = name, pid, %error, "cannot stop"),
        }
    }
}

/// Sleeps `delay`; answers whether the supervisor was stopped meanwhile.
async fn pause_unless_stopped(delay: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => stop.is_cancelled(),
        () = stop.cancelled() => true,
    }
}
