//! `zayavki start`: takes the instance lock, checks the ports, declares the RabbitMQ topology,
//! then supervises every service as a child process until Ctrl-C, SIGTERM or SIGHUP. Once every
//! service answers its readiness check it prints the addresses and, when it generated the key,
//! tokens and example lines.

mod listeners;
mod plan;
mod services;
mod settings;

use std::{io::Write, process::ExitCode};

use anyhow::Context;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::watch,
};
use zayavki_common::{
    amqp::topology::declare_topology_at,
    shutdown::{self, CancellationToken},
};
use zayavki_identity::{IdentityConfig, TokenMinter};

pub use listeners::{Listen, Listeners};
pub use plan::{
    GATEWAY_PROXIES, GatewayFiles, Plan, Programs, SINK_SUBCOMMAND, SharedConfig, WEB_SUBCOMMAND,
};
pub use services::{ServiceKind, selected_services};
pub use settings::StartSettings;

use crate::{
    addresses::Addresses,
    gateway,
    instance::{self, Claim, InstanceLock, RunState, StateFile},
    quickstart::Quickstart,
    supervisor::Supervisor,
};

/// The line that ends the start-up output once every service is ready.
pub const READY_LINE: &str = "zayavki is ready";

pub async fn run(replicas: Option<usize>) -> anyhow::Result<ExitCode> {
    let stop = shutdown::token_cancelled_on_signal();
    stop_on_hangup(stop.clone())?;
    let state_dir = instance::state_dir();
    let lock = match InstanceLock::claim(&state_dir)? {
        Claim::Ours(lock) => lock,
        Claim::Running(running) => {
            eprintln!("{}", running.describe());
            return Ok(ExitCode::FAILURE);
        }
    };
    let settings = StartSettings::from_env(replicas)?;
    settings.programs.ensure_present(&settings.services)?;
    let replicas = settings
        .listeners
        .claim_replicas(&settings.services, settings.replicas)?;
    let gateway = if settings.services.contains(&ServiceKind::Gateway) {
        Some(GatewayFiles {
            config: state_dir.join("haproxy.cfg"),
            certificate: gateway::certificate(settings.tls_certificate.clone(), &state_dir)?,
            edge_limit: settings.edge_limit,
        })
    } else {
        None
    };
    let (identity, generated_key) = IdentityConfig::from_env()?.or_development_key()?;
    let minter = generated_key
        .as_ref()
        .map(|_| TokenMinter::new(&identity))
        .transpose()?;
    match declare_topology_at(&settings.amqp, "zayavki start").await {
        Ok(()) => tracing::info!("rabbitmq topology declared"),
        Err(error) => tracing::warn!(
            error = %format!("{error:#}"),
            "rabbitmq is not reachable; messages wait in the outboxes until it is"
        ),
    }
    let plan = Plan::new(
        &settings.services,
        &replicas,
        &settings.programs,
        &SharedConfig {
            jwt_secret: generated_key.map(|key| key.expose_secret().to_owned()),
            plain_output: settings.plain_output,
            gateway: gateway.clone(),
            search_index_dir: settings.search_index_dir.clone(),
        },
        settings.rabbitmq_ui.clone(),
    );
    if let (Some(gateway_plan), Some(files)) = (&plan.gateway, &gateway) {
        gateway::write_checked_config(gateway_plan, &settings.programs.haproxy, &files.config)
            .await?;
    }
    let state = RunState::new(
        plan.addresses.clone(),
        plan.children.iter().map(|child| child.name.clone()),
    );
    // Written before any service starts, so a second start can always say where this one is.
    lock.state_file().write(&state).await?;
    let (state, recorded) = watch::channel(state);
    let recorder = tokio::spawn(record(recorded, lock.state_file().clone()));
    let supervisor = Supervisor::start(plan.children, state, settings.supervisor)?;

    tokio::select! {
        ready = supervisor.wait_until_ready(settings.supervisor.ready_patience) => {
            announce(&plan.addresses, minter.as_ref(), ready, lock.state_file());
        }
        () = stop.cancelled() => {}
    }
    stop.cancelled().await;
    supervisor.stop().await;
    drop(tokio::time::timeout(std::time::Duration::from_secs(2), recorder).await);
    lock.state_file().remove();
    Ok(ExitCode::SUCCESS)
}

/// Prints the addresses, the tokens and examples when the key was generated, and whether every
/// service is ready. Output that cannot be written (a closed terminal or pipe) is dropped.
fn announce(
    addresses: &Addresses,
    minter: Option<&TokenMinter>,
    ready: Result<(), Vec<String>>,
    state_file: &StateFile,
) {
    let mut text = format!("\n{}\n", addresses.render());
    match minter.map(|minter| Quickstart::new(minter, addresses)) {
        Some(Ok(quickstart)) => text.push_str(&format!("{}\n", quickstart.render())),
        Some(Err(error)) => {
            tracing::error!(error = %format!("{error:#}"), "cannot mint the example tokens");
        }
        None => {}
    }
    text.push_str(&format!(
        "Each service runs as its own process (`zayavki status` lists them; state in {}).\n",
        state_file.path().display()
    ));
    let pid = std::process::id();
    match ready {
        Ok(()) => text.push_str(&format!(
            "{READY_LINE} (pid {pid}): every service answers. Ctrl-C stops them all.\n"
        )),
        Err(not_ready) => text.push_str(&format!(
            "zayavki is running (pid {pid}), but not ready yet: {} (their lines above say why). \
             Ctrl-C stops every service.\n",
            not_ready.join(", ")
        )),
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).ok();
    stdout.flush().ok();
}

/// The children run in process groups of their own, so a closed terminal's SIGHUP reaches only
/// the start command: it stops them as on Ctrl-C rather than leaving them behind.
fn stop_on_hangup(stop: CancellationToken) -> anyhow::Result<()> {
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        if hangup.recv().await.is_some() {
            tracing::info!("sighup received, shutting down");
            stop.cancel();
        }
    });
    Ok(())
}

/// Writes the state file on every change, until the supervisor is gone.
async fn record(mut state: watch::Receiver<RunState>, file: StateFile) {
    loop {
        let snapshot = state.borrow_and_update().clone();
        if let Err(error) = file.write(&snapshot).await {
            tracing::warn!(%error, path = %file.path().display(), "cannot record the state");
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
