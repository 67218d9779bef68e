//! The start command's own settings, from the environment.

use std::{io::IsTerminal, time::Duration};

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
    supervisor::{RestartPolicy, SupervisorSettings},
};

/// Beyond the services' own `SHUTDOWN_GRACE_SECONDS`, before a child that has not exited is
/// killed.
const STOP_MARGIN: Duration = Duration::from_secs(5);

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
}

impl StartSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut services = selected_services(env_optional("ZAYAVKI_SERVICES").as_deref())?;
        if env_optional("NOTIFIER_URL").is_some() {
            services.retain(|kind| *kind != ServiceKind::Sink);
        }
        let amqp_url = env_or("AMQP_URL", DEFAULT_AMQP_URL);
        let shutdown_grace = Duration::from_secs(env_parse("SHUTDOWN_GRACE_SECONDS", 10)?);
        Ok(Self {
            services,
            listeners: Listeners::from_env()?,
            programs: Programs::from_env()?,
            rabbitmq_ui: RabbitMqUi::new(&amqp_url, env_optional("RABBITMQ_MANAGEMENT_URL")),
            amqp: AmqpSettings::new(amqp_url),
            supervisor: SupervisorSettings {
                restart: RestartPolicy::default(),
                stop_grace: shutdown_grace + STOP_MARGIN,
                ready_patience: Duration::from_secs(env_parse(
                    "ZAYAVKI_READY_TIMEOUT_SECONDS",
                    120,
                )?),
            },
            plain_output: !std::io::stdout().is_terminal(),
        })
    }
}
