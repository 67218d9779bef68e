//! `zayavki status`: the running start command's addresses and each service's process, from
//! its state file.

use std::process::ExitCode;

use rustix::process::{Pid, test_kill_process};

use crate::instance::{self, StateFile};

pub fn run() -> ExitCode {
    let file = StateFile::in_dir(&instance::state_dir());
    match file.read().filter(|state| is_alive(state.pid)) {
        Some(state) => {
            println!("zayavki is running (pid {}):", state.pid);
            println!("{}", state.addresses.render());
            print!("{}", state.render_services());
            ExitCode::SUCCESS
        }
        None => {
            println!("zayavki is not running");
            ExitCode::FAILURE
        }
    }
}

fn is_alive(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| test_kill_process(pid).is_ok())
}
