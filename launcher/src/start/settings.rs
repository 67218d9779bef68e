//! The start command's own settings, from the environment.

use std::{io::IsTerminal, path::PathBuf, time::Duration};

use zayavki_common::{
    amqp::{AmqpSettings, DEFAULT_AMQP_URL},
    config::{env_optional, env_or, env_parse},
};

use super::{
    listeners::Listeners,
    plan::Programs,
    services::{ServiceKind, selected_services},
};
use crate::{
    addresses::RabbitMqUi,
    gateway::DEFAULT_EDGE_LIMIT,
    supervisor::{RestartPolicy, SupervisorSettings},
};

/// Beyond the services' own `SHUTDOWN_GRACE_SECONDS`, before a child that has not exited is
/// killed.
const STOP_MARGIN: Duration = Duration::from_secs(5);
/// More replicas than this on one machine is a typing error.
const MAX_REPLICAS: usize = 8;

#[derive(Clone, Debug)]
pub struct StartSettings {
    /// `ZAYAVKI_SERVICES`, without the sink when `NOTIFIER_URL` is set.
    pub services: Vec<ServiceKind>,
    pub listeners: Listeners,
    pub programs: Programs,
    /// `AMQP_URL`: the start command declares the topology there.
    pub amqp: AmqpSettings,
    /// `RABBITMQ_MANAGEMENT_URL`, printed.
    pub rabbitmq_ui: RabbitMqUi,
    /// `ZAYAVKI_READY_TIMEOUT_SECONDS` (default 120) is `ready_patience`; the services' own
    /// `SHUTDOWN_GRACE_SECONDS` (default 10), and a margin, is `stop_grace`.
    pub supervisor: SupervisorSettings,
    /// Children write plain lines when the start command's output is no terminal.
    pub plain_output: bool,
    /// `--replicas`, else `ZAYAVKI_REPLICAS` (default 1): replicas of each replicated service.
    pub replicas: usize,
    /// `GATEWAY_EDGE_LIMIT`: requests per client address per 10 s (default 2000; 0: none).
    pub edge_limit: Option<u32>,
    /// `GATEWAY_TLS_CERT`: the gateway's PEM certificate and key; a development one otherwise.
    pub tls_certificate: Option<PathBuf>,
    /// application-service's `SEARCH_INDEX_DIR` (default `data/search-index`).
    pub search_index_dir: PathBuf,
}

impl StartSettings {
    pub fn from_env(replicas: Option<usize>) -> anyhow::Result<Self> {
        let mut services = selected_services(env_optional("ZAYAVKI_SERVICES").as_deref())?;
        if env_optional("NOTIFIER_URL").is_some() {
            services.retain(|kind| *kind != ServiceKind::Sink);
        }
        let amqp_url = env_or("AMQP_URL", DEFAULT_AMQP_URL);
        let shutdown_grace = Duration::from_secs(env_parse("SHUTDOWN_GRACE_SECONDS", 10)?);
        let replicas = match replicas {
            Some(replicas) => replicas,
            None => env_parse("ZAYAVKI_REPLICAS", 1)?,
        };
        anyhow::ensure!(
            (1..=MAX_REPLICAS).contains(&replicas),
            "replicas must be between 1 and {MAX_REPLICAS}, not {replicas}"
        );
        let edge_limit: u32 = env_parse("GATEWAY_EDGE_LIMIT", DEFAULT_EDGE_LIMIT)?;
        Ok(Self {
            services,
            listeners: Listeners::from_env()?,
            programs: Programs::from_env()?,
            rabbitmq_ui: RabbitMqUi::new(&amqp_url, env_optional("RABBITMQ_MANAGEMENT_URL")),
            amqp: AmqpSettings::new(amqp_url),
            supervisor: SupervisorSettings {
                restart: restart_policy()?,
                stop_grace: shutdown_grace + STOP_MARGIN,
                ready_patience: Duration::from_secs(env_parse(
                    "ZAYAVKI_READY_TIMEOUT_SECONDS",
                    120,
                )?),
            },
            plain_output: !std::io::stdout().is_terminal(),
            replicas,
            edge_limit: (edge_limit > 0).then_some(edge_limit),
            tls_certificate: env_optional("GATEWAY_TLS_CERT").map(PathBuf::from),
            search_index_dir: PathBuf::from(env_or("SEARCH_INDEX_DIR", "data/search-index")),
        })
    }
}

/// The restart pauses; `ZAYAVKI_RESTART_DELAY_MS` sets the first (default 500), which then
/// doubles up to 30 s while a service keeps failing.
fn restart_policy() -> anyhow::Result<RestartPolicy> {
    let default = RestartPolicy::default();
    let initial = Duration::from_millis(env_parse(
        "ZAYAVKI_RESTART_DELAY_MS",
        u64::try_from(default.initial.as_millis()).unwrap_or(500),
    )?);
    anyhow::ensure!(
        initial <= default.max,
        "ZAYAVKI_RESTART_DELAY_MS must be at most {} ms",
        default.max.as_millis()
    );
    Ok(RestartPolicy { initial, ..default })
}
