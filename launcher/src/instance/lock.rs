//! The lock: `zayavki.lock` in the state directory, held with `flock` while a start command
//! runs. The kernel releases it when the process ends, however it ends, so a stale file never
//! blocks the next start.

use std::{
    fs::{DirBuilder, File, OpenOptions},
    io::{Read, Seek, Write},
    os::unix::fs::DirBuilderExt,
    path::Path,
};

use anyhow::Context;
use rustix::fs::{FlockOperation, flock};

use super::{RunState, StateFile};

const LOCK_FILE: &str = "zayavki.lock";

/// Held for the life of the run; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    // The open file description carries the lock (opened close-on-exec, so children never hold
    // it).
    _file: File,
    state_file: StateFile,
}

/// What trying to take the lock found.
#[derive(Debug)]
pub enum Claim {
    /// Nobody else runs: the lock is ours.
    Ours(InstanceLock),
    /// Another start command holds it.
    Running(Box<RunningInstance>),
}

/// The start command that holds the lock, as far as its files tell.
#[derive(Debug)]
pub struct RunningInstance {
    /// The supervisor's process id, written right after it took the lock.
    pub pid: Option<u32>,
    /// Its state, once it has written it (it does before starting any service).
    pub state: Option<RunState>,
}

impl InstanceLock {
    /// Takes the lock in `dir` (created, private to this user, when missing) without waiting.
    pub fn claim(dir: &Path) -> anyhow::Result<Claim> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let state_file = StateFile::in_dir(dir);
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                file.set_len(0)?;
                file.rewind()?;
                write!(file, "{}", std::process::id())?;
                file.flush()?;
                Ok(Claim::Ours(Self {
                    _file: file,
                    state_file,
                }))
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut pid = String::new();
                file.read_to_string(&mut pid).ok();
                Ok(Claim::Running(Box::new(RunningInstance {
                    pid: pid.trim().parse().ok(),
                    state: state_file.read(),
                })))
            }
            Err(error) => Err(error).with_context(|| format!("cannot lock {}", path.display())),
        }
    }

    /// Where this run records its state.
    pub fn state_file(&self) -> &StateFile {
        &self.state_file
    }
}

impl RunningInstance {
    /// `zayavki is already running (pid N)`, with its addresses when known.
    pub fn describe(&self) -> String {
        let pid = self
            .pid
            .or(self.state.as_ref().map(|state| state.pid))
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        match &self.state {
            Some(state) => format!(
                "zayavki is already running{pid}:\n{}",
                state.addresses.render()
            ),
            None => format!("zayavki is already running{pid}; it is still starting"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_finds_the_first_running_until_it_is_released() {
        let dir = tempfile::tempdir().expect("temporary directory");

        let first = match InstanceLock::claim(dir.path()).expect("claim") {
            Claim::Ours(lock) => lock,
            Claim::Running(running) => panic!("nobody runs yet: {running:?}"),
        };
        match InstanceLock::claim(dir.path()).expect("claim") {
            Claim::Running(running) => {
                assert_eq!(running.pid, Some(std::process::id()));
                assert!(running.state.is_none(), "no state written yet");
                let described = running.describe();
                assert!(
                    described.starts_with(&format!(
                        "zayavki is already running (pid {})",
                        std::process::id()
                    )),
                    "{described}"
                );
            }
            Claim::Ours(_) => panic!("the first claim holds the lock"),
        }

        drop(first);
        assert!(matches!(
            InstanceLock::claim(dir.path()).expect("claim"),
            Claim::Ours(_)
        ));
    }
}
