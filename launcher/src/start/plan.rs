//! What the start command runs: each chosen service's program, environment and readiness URL,
//! and the addresses it prints. Children inherit the start command's environment; the plan adds
//! what ties them together: the addresses it claimed, the key every service shares, where
//! business-process and report-service reach application-service, and where notifications go.

use std::path::{Path, PathBuf};

use anyhow::Context;
use zayavki_common::config::env_optional;

use super::{listeners::Listeners, services::ServiceKind};
use crate::{
    addresses::{Addresses, ApplicationAddresses, ProcessAddresses, RabbitMqUi, reachable},
    supervisor::ChildSpec,
};

/// The subcommand of `zayavki` that runs the development notification sink.
pub const SINK_SUBCOMMAND: &str = "notification-sink";

/// Where the programs are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Programs {
    /// The services' binaries: `ZAYAVKI_BIN_DIR`, or the directory of the running `zayavki`
    /// (cargo builds every binary of the workspace into one directory per profile).
    pub bin_dir: PathBuf,
    /// The running `zayavki`, which also runs the sink.
    pub launcher: PathBuf,
}

impl Programs {
    pub fn from_env() -> anyhow::Result<Self> {
        let launcher = std::env::current_exe().context("cannot tell where zayavki runs from")?;
        let bin_dir = match env_optional("ZAYAVKI_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => launcher
                .parent()
                .map(Path::to_path_buf)
                .context("zayavki runs from no directory")?,
        };
        Ok(Self { bin_dir, launcher })
    }

    fn command(&self, kind: ServiceKind) -> (PathBuf, Vec<String>) {
        match kind.binary() {
            Some(binary) => (self.bin_dir.join(binary), Vec::new()),
            None => (self.launcher.clone(), vec![SINK_SUBCOMMAND.to_owned()]),
        }
    }

    /// Fails naming every missing binary, and how to build them.
    pub fn ensure_present(&self, services: &[ServiceKind]) -> anyhow::Result<()> {
        let missing: Vec<String> = services
            .iter()
            .map(|kind| self.command(*kind).0)
            .filter(|program| !program.is_file())
            .map(|program| program.display().to_string())
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "missing {}: build the services first (`cargo build --release -p zayavki -p \
             application-service -p business-process -p report-service`, as scripts/start does), \
             or point ZAYAVKI_BIN_DIR at their directory",
            missing.join(", ")
        );
        Ok(())
    }
}

/// What every child gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedConfig {
    /// The key generated for this run (`JWT_SECRET`), when none was configured.
    pub jwt_secret: Option<String>,
    /// Children write plain lines (`NO_COLOR`) when the start command's output is no terminal.
    pub plain_output: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub children: Vec<ChildSpec>,
    pub addresses: Addresses,
}

impl Plan {
    pub fn new(
        services: &[ServiceKind],
        listeners: &Listeners,
        programs: &Programs,
        shared: &SharedConfig,
        rabbitmq_ui: RabbitMqUi,
    ) -> Self {
        let runs = |kind| services.contains(&kind);
        let addresses = Addresses {
            application: runs(ServiceKind::Application).then(|| ApplicationAddresses {
                grpc: reachable(listeners.application_grpc.address),
                http: reachable(listeners.application_http.address),
            }),
            process: runs(ServiceKind::Process).then(|| ProcessAddresses {
                grpc: reachable(listeners.process_grpc.address),
                http: reachable(listeners.process_http.address),
            }),
            reports: runs(ServiceKind::Reports).then(|| reachable(listeners.report_http.address)),
            notification_sink: runs(ServiceKind::Sink).then(|| reachable(listeners.sink.address)),
            rabbitmq_ui,
        };
        let application_service_url = addresses
            .application
            .map(|application| format!("http://{}", application.grpc));
        let children = services
            .iter()
            .map(|kind| {
                let mut env = Vec::new();
                let mut set = |listen: super::listeners::Listen| {
                    env.push((listen.variable.to_owned(), listen.address.to_string()));
                };
                let ready_url = match kind {
                    ServiceKind::Application => {
                        set(listeners.application_grpc);
                        set(listeners.application_http);
                        readyz(listeners.application_http.address)
                    }
                    ServiceKind::Process => {
                        set(listeners.process_grpc);
                        set(listeners.process_http);
                        readyz(listeners.process_http.address)
                    }
                    ServiceKind::Reports => {
                        set(listeners.report_http);
                        readyz(listeners.report_http.address)
                    }
                    ServiceKind::Sink => {
                        set(listeners.sink);
                        format!("http://{}/notifications", reachable(listeners.sink.address))
                    }
                };
                if matches!(kind, ServiceKind::Process | ServiceKind::Reports)
                    && let Some(url) = &application_service_url
                {
                    env.push(("APPLICATION_SERVICE_URL".to_owned(), url.clone()));
                }
                if let (ServiceKind::Process, Some(sink)) = (kind, addresses.notification_sink) {
                    env.push(("NOTIFIER_URL".to_owned(), format!("http://{sink}")));
                }
                if let Some(secret) = &shared.jwt_secret {
                    env.push(("JWT_SECRET".to_owned(), secret.clone()));
                }
                if shared.plain_output {
                    env.push(("NO_COLOR".to_owned(), "1".to_owned()));
                }
                let (program, args) = programs.command(*kind);
                ChildSpec {
                    name: kind.name().to_owned(),
                    program,
                    args,
                    env,
                    ready_url,
                }
            })
            .collect();
        Self {
            children,
            addresses,
        }
    }
}

fn readyz(address: std::net::SocketAddr) -> String {
    format!("http://{}/readyz", reachable(address))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::start::listeners::Listen;

    fn listeners() -> Listeners {
        let listen = |variable, address: &str| Listen {
            variable,
            address: address.parse::<SocketAddr>().expect(address),
        };
        Listeners {
            application_grpc: listen("APPLICATION_GRPC_ADDR", "0.0.0.0:50051"),
            application_http: listen("APPLICATION_HTTP_ADDR", "127.0.0.1:8080"),
            process_grpc: listen("PROCESS_GRPC_ADDR", "127.0.0.1:50052"),
            process_http: listen("PROCESS_HTTP_ADDR", "127.0.0.1:8081"),
            report_http: listen("REPORT_HTTP_ADDR", "127.0.0.1:8082"),
            sink: listen("NOTIFICATION_SINK_ADDR", "127.0.0.1:8090"),
        }
    }

    fn programs() -> Programs {
        Programs {
            bin_dir: PathBuf::from("/opt/zayavki/bin"),
            launcher: PathBuf::from("/opt/zayavki/bin/zayavki"),
        }
    }

    fn plan(services: &[ServiceKind]) -> Plan {
        Plan::new(
            services,
            &listeners(),
            &programs(),
            &SharedConfig {
                jwt_secret: Some("a shared secret of at least thirty-two bytes".to_owned()),
                plain_output: true,
            },
            RabbitMqUi::new("amqp://guest:guest@127.0.0.1:5672/%2f", None),
        )
    }

    fn env<'a>(child: &'a ChildSpec, name: &str) -> Option<&'a str> {
        child
            .env
            .iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.as_str())
    }

    fn child<'a>(plan: &'a Plan, name: &str) -> &'a ChildSpec {
        plan.children
            .iter()
            .find(|child| child.name == name)
            .unwrap_or_else(|| panic!("{name} runs"))
    }

    #[test]
    fn every_service_runs_from_its_binary_with_the_shared_key_and_its_neighbours() {
        let plan = plan(&ServiceKind::ALL);

        let names: Vec<&str> = plan
            .children
            .iter()
            .map(|child| child.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "application-service",
                "business-process",
                "report-service",
                "notification-sink"
            ]
        );
        for child in &plan.children {
            assert_eq!(
                env(child, "JWT_SECRET"),
                Some("a shared secret of at least thirty-two bytes")
            );
            assert_eq!(env(child, "NO_COLOR"), Some("1"));
        }
        let application = child(&plan, "application-service");
        assert_eq!(
            application.program,
            PathBuf::from("/opt/zayavki/bin/application-service")
        );
        assert_eq!(
            env(application, "APPLICATION_GRPC_ADDR"),
            Some("0.0.0.0:50051")
        );
        assert_eq!(application.ready_url, "http://127.0.0.1:8080/readyz");

        let process = child(&plan, "business-process");
        assert_eq!(
            env(process, "APPLICATION_SERVICE_URL"),
            Some("http://127.0.0.1:50051")
        );
        assert_eq!(env(process, "NOTIFIER_URL"), Some("http://127.0.0.1:8090"));
        assert_eq!(process.ready_url, "http://127.0.0.1:8081/readyz");

        let reports = child(&plan, "report-service");
        assert_eq!(
            env(reports, "APPLICATION_SERVICE_URL"),
            Some("http://127.0.0.1:50051")
        );
        assert_eq!(env(reports, "REPORT_HTTP_ADDR"), Some("127.0.0.1:8082"));
        assert_eq!(env(reports, "NOTIFIER_URL"), None);

        let sink = child(&plan, "notification-sink");
        assert_eq!(sink.program, PathBuf::from("/opt/zayavki/bin/zayavki"));
        assert_eq!(sink.args, [SINK_SUBCOMMAND]);
        assert_eq!(sink.ready_url, "http://127.0.0.1:8090/notifications");

        assert_eq!(
            plan.addresses
                .application
                .map(|application| application.grpc.to_string()),
            Some("127.0.0.1:50051".to_owned()),
            "printed as reachable"
        );
    }

    #[test]
    fn what_does_not_run_is_neither_wired_nor_printed() {
        let plan = plan(&[ServiceKind::Process, ServiceKind::Reports]);

        let process = child(&plan, "business-process");
        assert_eq!(
            env(process, "NOTIFIER_URL"),
            None,
            "NOTIFIER_URL is the user's"
        );
        assert_eq!(env(process, "APPLICATION_SERVICE_URL"), None);
        assert_eq!(plan.addresses.application, None);
        assert_eq!(plan.addresses.notification_sink, None);
        assert!(plan.addresses.render().contains("NOTIFIER_URL"));
    }

    #[test]
    fn missing_binaries_are_named_with_how_to_build_them() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("application-service"), b"").expect("a binary");
        let programs = Programs {
            bin_dir: dir.path().to_path_buf(),
            launcher: dir.path().join("application-service"),
        };

        programs
            .ensure_present(&[ServiceKind::Application, ServiceKind::Sink])
            .expect("both are there");
        let error = programs
            .ensure_present(&ServiceKind::ALL)
            .expect_err("two are missing")
            .to_string();
        assert!(error.contains("business-process"), "{error}");
        assert!(error.contains("report-service"), "{error}");
        assert!(error.contains("cargo build --release"), "{error}");
        let present = dir.path().join("application-service");
        assert!(!error.contains(&present.display().to_string()), "{error}");
    }
}
