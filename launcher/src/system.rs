//! Every service of the system in one process.

use anyhow::Context;
use application_service::{config::Settings as ApplicationSettings, startup::Application};
use business_process::{
    config::Settings as ProcessSettings, notifier::NotificationSink,
    startup::Application as BusinessProcess,
};
use tokio::task::JoinSet;
use zayavki_common::{amqp::topology::declare_topology_at, shutdown::CancellationToken};

use crate::addresses::{Addresses, reachable};

/// The settings of every service the start command runs.
#[derive(Clone, Debug)]
pub struct SystemSettings {
    pub application: ApplicationSettings,
    /// Its identity and `application_service_url` are replaced by the system's own: tokens that
    /// application-service accepts work on business-process too, and it calls the
    /// application-service started here.
    pub process: ProcessSettings,
}

/// The services, built (listeners bound) and ready to run.
pub struct System {
    application: Application,
    process: BusinessProcess,
    notification_sink: Option<NotificationSink>,
}

impl System {
    /// Declares the RabbitMQ topology, then builds every service: application-service,
    /// business-process (its database created and migrated) and, when `NOTIFIER_URL` is unset,
    /// the development notification sink that business-process then delivers to. A broker that
    /// is down is not fatal: the services keep their messages in their outboxes, and declare the
    /// topology themselves when they reach it.
    pub async fn build(settings: SystemSettings) -> anyhow::Result<Self> {
        let SystemSettings {
            application: application_settings,
            process: mut process_settings,
        } = settings;
        match declare_topology_at(&process_settings.amqp, "zayavki start").await {
            Ok(()) => tracing::info!("rabbitmq topology declared"),
            Err(error) => tracing::warn!(
                error = %format!("{error:#}"),
                "rabbitmq is not reachable; messages wait in the outboxes until it is"
            ),
        }
        process_settings.identity = application_settings.identity.clone();
        let application = Application::build(application_settings)
            .await
            .context("application-service cannot start")?;
        process_settings.application_service_url =
            format!("http://{}", reachable(application.grpc_address()));
        let notification_sink = match process_settings.notifier.url {
            Some(_) => None,
            None => {
                let sink = NotificationSink::bind(process_settings.notifier.sink_address).await?;
                process_settings.notifier.sink_address = reachable(sink.address());
                Some(sink)
            }
        };
        let process = BusinessProcess::build(process_settings)
            .await
            .context("business-process cannot start")?;
        Ok(Self {
            application,
            process,
            notification_sink,
        })
    }

    /// Where each service listens.
    pub fn addresses(&self) -> Addresses {
        Addresses {
            application_grpc: self.application.grpc_address(),
            application_http: self.application.http_address(),
            process_grpc: self.process.grpc_address(),
            process_http: self.process.http_address(),
            notification_sink: self
                .notification_sink
                .as_ref()
                .map(NotificationSink::address),
        }
    }

    /// Runs until `shutdown` is cancelled; stops everything when any service stops, and answers
    /// the first failure.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let stop = shutdown.child_token();
        let mut services = JoinSet::new();
        let application = self.application.run_until_stopped(stop.clone());
        services.spawn(async { ("application-service", application.await) });
        let process = self.process.run_until_stopped(stop.clone());
        services.spawn(async { ("business-process", process.await) });
        if let Some(sink) = self.notification_sink {
            let sink = sink.run_until_stopped(stop.clone());
            services.spawn(async { ("notification sink", sink.await) });
        }
        let mut outcome = Ok(());
        while let Some(joined) = services.join_next().await {
            stop.cancel();
            let stopped = match joined {
                Ok((name, result)) => result.with_context(|| format!("{name} failed")),
                Err(error) => Err(anyhow::Error::new(error).context("a service panicked")),
            };
            if let Err(error) = stopped {
                tracing::error!(error = %format!("{error:#}"), "stopping every service");
                if outcome.is_ok() {
                    outcome = Err(error);
                }
            }
        }
        outcome
    }
}
