//! Each service is a child process of the start command: one that dies is started again, a
//! second start command finds the first, and a stop signal stops every child before the start
//! command exits cleanly.

use rustix::process::Signal;
use zayavki::instance::{Claim, InstanceLock, StateFile};

use crate::helpers::{
    PATIENCE, http, is_alive, send, start_command, start_system, start_system_with, zayavki,
};

#[tokio::test]
async fn a_killed_service_is_started_again_and_answers_while_the_others_keep_running() {
    let system = start_system_with(&[("ZAYAVKI_SERVICES", "application,process")]).await;
    let application_pid = system.service_pid("application-service");
    let killed = system.service_pid("business-process");

    send(killed, Signal::KILL);

    let restarted = system
        .wait_for_state("business-process started again and ready", |state| {
            state.service("business-process").is_some_and(|service| {
                service.starts == 2 && service.ready && service.pid.is_some()
            })
        })
        .await;
    let process = restarted.service("business-process").expect("listed");
    assert_ne!(process.pid, Some(killed));
    assert!(!is_alive(killed), "the killed process was reaped");
    let application = restarted.service("application-service").expect("listed");
    assert_eq!(application.pid, Some(application_pid), "left running");
    assert_eq!(application.starts, 1);
    assert!(
        system
            .stdout
            .wait_for(|line| line.contains("business-process")
                && line.contains("exited unexpectedly")
                && line.contains(&killed.to_string()))
            .await
            .is_some(),
        "the crash is logged\n{}",
        system.transcript()
    );

    let address = restarted
        .addresses
        .process
        .expect("business-process runs")
        .http;
    let ready = http()
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .expect("business-process answers again");
    assert!(ready.status().is_success(), "{}", ready.status());

    // Ctrl-C in a terminal.
    let status = system.stop_with(Signal::INT).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_second_start_says_where_the_running_one_is_instead_of_failing_on_a_port() {
    let system = start_system_with(&[("ZAYAVKI_SERVICES", "sink")]).await;
    let sink = system
        .state()
        .addresses
        .notification_sink
        .expect("the sink runs");
    // The same address as the running one, which would be refused as in use.
    let mut env = system.env.clone();
    env.push(("NOTIFICATION_SINK_ADDR".to_owned(), sink.to_string()));

    let second = tokio::time::timeout(PATIENCE, start_command(&env).kill_on_drop(true).output())
        .await
        .expect("the second start ends")
        .expect("zayavki runs");

    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("zayavki is already running (pid {})", system.pid)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("http://{sink}/notifications")),
        "{stderr}"
    );
    assert!(!stderr.contains("in use"), "{stderr}");

    let status = tokio::process::Command::new(zayavki())
        .arg("status")
        .env("ZAYAVKI_STATE_DIR", &system.state_dir)
        .output()
        .await
        .expect("zayavki status runs");
    let listed = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{listed}");
    let sink_pid = system.service_pid("notification-sink");
    assert!(
        listed.contains(&format!("zayavki is running (pid {})", system.pid)),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("pid {sink_pid}, ready")),
        "{listed}"
    );

    let stopped = system.stop_with(Signal::TERM).await;
    assert!(stopped.success(), "{stopped}");
}

#[tokio::test]
async fn sigterm_stops_every_service_gracefully_and_exits_zero() {
    let system = start_system().await;
    let state = system.state();
    let children: Vec<(String, u32)> = state
        .services
        .iter()
        .map(|service| (service.name.clone(), service.pid.expect("running")))
        .collect();
    assert_eq!(
        children
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        [
            "application-service",
            "business-process",
            "report-service",
            "notification-sink",
            "web-server",
            "gateway"
        ],
        "{children:?}"
    );
    let state_dir = system.state_dir.clone();
    let stdout = system.stdout.clone();

    let status = system.stop_with(Signal::TERM).await;

    assert!(status.success(), "{status}");
    for (name, pid) in &children {
        assert!(!is_alive(*pid), "{name} (pid {pid}) still runs");
    }
    let transcript = stdout.snapshot().join("\n");
    for (name, pid) in &children {
        assert!(
            stdout.snapshot().iter().any(|line| line.contains("stopped")
                && line.contains(name.as_str())
                && line.contains(&format!("pid={pid}"))),
            "{name} stopped gracefully\n{transcript}"
        );
    }
    assert!(
        !transcript.contains("killed: still running"),
        "{transcript}"
    );
    assert!(!transcript.contains("exited unexpectedly"), "{transcript}");
    assert!(StateFile::in_dir(&state_dir).read().is_none());
    assert!(
        matches!(InstanceLock::claim(&state_dir), Ok(Claim::Ours(_))),
        "the lock went with the start command"
    );
}
