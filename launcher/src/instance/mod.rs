//! One start command per state directory: a lock held for the life of the run, and a state file
//! that tells a second start (and `zayavki status`) who runs and where.

mod lock;
mod state;

pub use lock::{Claim, InstanceLock, RunningInstance};
pub use state::{RunState, ServiceState, StateFile};

use std::path::PathBuf;

use zayavki_common::config::env_optional;

/// `ZAYAVKI_STATE_DIR`; otherwise `$XDG_RUNTIME_DIR/zayavki`, or `zayavki-<uid>` in the
/// temporary directory: one per user, whatever directory the command is started from, since the
/// ports it claims are the machine's.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = env_optional("ZAYAVKI_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(runtime) = env_optional("XDG_RUNTIME_DIR") {
        return PathBuf::from(runtime).join("zayavki");
    }
    std::env::temp_dir().join(format!("zayavki-{}", rustix::process::getuid().as_raw()))
}
