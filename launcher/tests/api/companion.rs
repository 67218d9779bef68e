//! A second `zayavki start` beside a running system, in a state directory of its own, sharing
//! its databases, virtual host and key: it runs the services the first one left out.

use rustix::process::Signal;
use tempfile::TempDir;
use tokio::process::Child;
use zayavki::{
    instance::{RunState, StateFile},
    start::READY_LINE,
};

use crate::helpers::{Lines, PATIENCE, StartedSystem, send, start_command};

pub struct Companion {
    process: Option<Child>,
    pub pid: u32,
    pub stdout: Lines,
    pub stderr: Lines,
    state_dir: TempDir,
}

impl Companion {
    /// Starts `zayavki start` with `system`'s environment and `settings` on top, and waits until
    /// it is ready.
    pub async fn start(system: &StartedSystem, settings: &[(&str, &str)]) -> Self {
        let state_dir = tempfile::tempdir().expect("temporary directory");
        let mut env = system.env.clone();
        let own = [("ZAYAVKI_STATE_DIR", state_dir.path().display().to_string())];
        for (name, value) in settings
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .chain(own)
        {
            env.retain(|(set, _)| set != name);
            env.push((name.to_owned(), value));
        }
        let mut process = start_command(&env)
            .kill_on_drop(true)
            .spawn()
            .expect("zayavki starts");
        let pid = process.id().expect("a running process");
        let stdout = Lines::follow(process.stdout.take().expect("piped stdout"), "stdout");
        let stderr = Lines::follow(process.stderr.take().expect("piped stderr"), "stderr");
        let companion = Self {
            process: Some(process),
            pid,
            stdout,
            stderr,
            state_dir,
        };
        let ready = companion
            .stdout
            .wait_for(|line| line.starts_with(READY_LINE))
            .await;
        assert!(
            ready.is_some(),
            "the second zayavki was not ready within {PATIENCE:?}\n--- stdout\n{}\n--- stderr\n{}",
            companion.stdout.snapshot().join("\n"),
            companion.stderr.snapshot().join("\n")
        );
        companion
    }

    pub fn state(&self) -> RunState {
        StateFile::in_dir(self.state_dir.path())
            .read()
            .expect("the second zayavki records its state")
    }

    /// Stops it as Ctrl-C would, and waits.
    pub async fn stop(mut self) {
        let mut process = self.process.take().expect("it runs");
        send(self.pid, Signal::INT);
        let status = tokio::time::timeout(PATIENCE, process.wait())
            .await
            .expect("the second zayavki stops")
            .expect("it is watched");
        assert!(status.success(), "{status}");
    }
}

impl Drop for Companion {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        if process.try_wait().ok().flatten().is_some() {
            return;
        }
        let children = StateFile::in_dir(self.state_dir.path()).read();
        send(self.pid, Signal::KILL);
        for service in children.iter().flat_map(|state| &state.services) {
            if let Some(pid) = service.pid {
                send(pid, Signal::KILL);
            }
        }
    }
}
