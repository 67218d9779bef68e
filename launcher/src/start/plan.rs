//! What the start command runs: each chosen service's program, environment and readiness URL,
//! and the addresses it prints. Children inherit the start command's environment; the plan adds
//! what ties them together: the addresses it claimed, the key every service shares, where
//! business-process and report-service reach application-service, and where notifications go.

use std::path::{Path, PathBuf};

use anyhow::Context;
use zayavki_common::config::env_optional;

use super::{listeners::Listeners, services::ServiceKind};
use crate::{
    addresses::{
        Addresses, ApplicationAddresses, GatewayAddresses, ProcessAddresses, RabbitMqUi, reachable,
    },
    gateway::{GatewayPlan, Replica, TlsCertificate},
    supervisor::ChildSpec,
};

/// The subcommand of `zayavki` that runs the development notification sink.
pub const SINK_SUBCOMMAND: &str = "notification-sink";
/// The subcommand of `zayavki` that serves the web app's files.
pub const WEB_SUBCOMMAND: &str = "web-server";

/// Where the programs are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Programs {
    /// The services' binaries: `ZAYAVKI_BIN_DIR`, or the directory of the running `zayavki`
    /// (cargo builds every binary of the workspace into one directory per profile).
    pub bin_dir: PathBuf,
    /// The running `zayavki`, which also runs the sink and the web app's file server.
    pub launcher: PathBuf,
    /// `HAPROXY_BIN`, else `haproxy` found on `PATH`.
    pub haproxy: PathBuf,
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
        let haproxy = env_optional("HAPROXY_BIN")
            .map(PathBuf::from)
            .or_else(|| on_path("haproxy"))
            .unwrap_or_else(|| PathBuf::from("haproxy"));
        Ok(Self {
            bin_dir,
            launcher,
            haproxy,
        })
    }

    fn command(&self, kind: ServiceKind, gateway: Option<&GatewayFiles>) -> (PathBuf, Vec<String>) {
        match kind {
            ServiceKind::Application | ServiceKind::Process | ServiceKind::Reports => {
                (self.bin_dir.join(kind.name()), Vec::new())
            }
            ServiceKind::Sink => (self.launcher.clone(), vec![SINK_SUBCOMMAND.to_owned()]),
            ServiceKind::Web => (self.launcher.clone(), vec![WEB_SUBCOMMAND.to_owned()]),
            // In the foreground (`-db`): the supervisor is its master.
            ServiceKind::Gateway => {
                let config = gateway.map(|files| files.config.display().to_string());
                let mut args = vec!["-db".to_owned(), "-f".to_owned()];
                args.extend(config);
                (self.haproxy.clone(), args)
            }
        }
    }

    /// Fails naming every missing binary, and how to build them.
    pub fn ensure_present(&self, services: &[ServiceKind]) -> anyhow::Result<()> {
        let missing: Vec<String> = services
            .iter()
            .filter(|kind| **kind != ServiceKind::Gateway)
            .map(|kind| self.command(*kind, None).0)
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
        if services.contains(&ServiceKind::Gateway) && !self.haproxy.is_file() {
            anyhow::bail!(
                "the gateway needs HAProxy 2.6 or later, which is not installed: `apt-get install -y \
                 haproxy` (scripts/start does it when run as root), or set HAPROXY_BIN to its \
                 path, or leave the gateway out with ZAYAVKI_SERVICES"
            );
        }
        Ok(())
    }
}

/// What every child gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedConfig {
    /// The key generated for this run (`JWT_SECRET`), when none was configured.
    pub jwt_secret: Option<String>,
    /// Children write plain lines (`NO_COLOR`) when the start command's output is no terminal.
    pub plain_output: bool,
    /// Where the gateway's files go, when it runs.
    pub gateway: Option<GatewayFiles>,
    /// application-service's `SEARCH_INDEX_DIR`: an index has one writer, so every further
    /// replica keeps its own beside it (`…-2`), caught up from PostgreSQL like any index.
    pub search_index_dir: PathBuf,
}

/// The gateway's configuration file (written by the start command) and TLS certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayFiles {
    pub config: PathBuf,
    pub certificate: TlsCertificate,
    /// Requests per client address per 10 s; `None`: no edge throttling.
    pub edge_limit: Option<u32>,
}

/// The proxies whose `X-Forwarded-For` the services trust: the gateway, on this machine.
pub const GATEWAY_PROXIES: &str = "127.0.0.1,::1";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub children: Vec<ChildSpec>,
    pub addresses: Addresses,
    /// What the gateway's configuration is rendered from, when it runs.
    pub gateway: Option<GatewayPlan>,
}

impl Plan {
    /// `replicas` holds each replica's listeners, the first one's with every service's.
    pub fn new(
        services: &[ServiceKind],
        replicas: &[Listeners],
        programs: &Programs,
        shared: &SharedConfig,
        rabbitmq_ui: RabbitMqUi,
    ) -> Self {
        let runs = |kind| services.contains(&kind);
        let first = replicas.first().expect("at least one replica");
        let gateway_files = shared
            .gateway
            .as_ref()
            .filter(|_| runs(ServiceKind::Gateway));
        let addresses = Addresses {
            gateway: gateway_files.map(|files| GatewayAddresses {
                http: reachable(first.gateway.address),
                https: reachable(first.gateway_tls.address),
                stats: reachable(first.gateway_stats.address),
                certificate: files.certificate.public.clone(),
            }),
            web: runs(ServiceKind::Web).then(|| reachable(first.web.address)),
            replicas: replicas.len(),
            application: runs(ServiceKind::Application).then(|| ApplicationAddresses {
                grpc: reachable(first.application_grpc.address),
                http: reachable(first.application_http.address),
            }),
            process: runs(ServiceKind::Process).then(|| ProcessAddresses {
                grpc: reachable(first.process_grpc.address),
                http: reachable(first.process_http.address),
            }),
            reports: runs(ServiceKind::Reports).then(|| reachable(first.report_http.address)),
            notification_sink: runs(ServiceKind::Sink).then(|| reachable(first.sink.address)),
            rabbitmq_ui,
        };
        let application_service_url = addresses
            .application
            .map(|application| format!("http://{}", application.grpc));
        let gateway = gateway_files.map(|files| gateway_plan(services, replicas, files));
        let mut children = Vec::new();
        for kind in services {
            let instances = if kind.is_replicated() {
                replicas.len()
            } else {
                1
            };
            for (index, listeners) in replicas.iter().take(instances).enumerate() {
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
                    ServiceKind::Web => {
                        set(listeners.web);
                        readyz(listeners.web.address)
                    }
                    ServiceKind::Gateway => format!(
                        "http://{}/ready",
                        reachable(listeners.gateway_stats.address)
                    ),
                };
                if matches!(kind, ServiceKind::Process | ServiceKind::Reports)
                    && let Some(url) = &application_service_url
                {
                    env.push(("APPLICATION_SERVICE_URL".to_owned(), url.clone()));
                }
                if let (ServiceKind::Process, Some(sink)) = (kind, addresses.notification_sink) {
                    env.push(("NOTIFIER_URL".to_owned(), format!("http://{sink}")));
                }
                if *kind == ServiceKind::Application && index > 0 {
                    let dir = format!("{}-{}", shared.search_index_dir.display(), index + 1);
                    env.push(("SEARCH_INDEX_DIR".to_owned(), dir));
                }
                if kind.is_replicated() && gateway.is_some() {
                    env.push(("TRUSTED_PROXIES".to_owned(), GATEWAY_PROXIES.to_owned()));
                }
                if let Some(secret) = &shared.jwt_secret {
                    env.push(("JWT_SECRET".to_owned(), secret.clone()));
                }
                if shared.plain_output {
                    env.push(("NO_COLOR".to_owned(), "1".to_owned()));
                }
                let (program, args) = programs.command(*kind, gateway_files);
                let name = match index {
                    0 => kind.name().to_owned(),
                    _ => format!("{}-{}", kind.name(), index + 1),
                };
                children.push(ChildSpec {
                    name,
                    program,
                    args,
                    env,
                    ready_url,
                });
            }
        }
        Self {
            children,
            addresses,
            gateway,
        }
    }
}

/// Every replica of every chosen service behind the gateway; a service that does not run gets
/// no server, so the gateway answers that it is unavailable.
fn gateway_plan(
    services: &[ServiceKind],
    replicas: &[Listeners],
    files: &GatewayFiles,
) -> GatewayPlan {
    let runs = |kind| services.contains(&kind);
    let first = &replicas[0];
    let group = |kind: ServiceKind, replica: fn(&Listeners) -> Replica| -> Vec<Replica> {
        if !runs(kind) {
            return Vec::new();
        }
        let count = if kind.is_replicated() {
            replicas.len()
        } else {
            1
        };
        replicas.iter().take(count).map(replica).collect()
    };
    GatewayPlan {
        listen: first.gateway.address,
        tls: first.gateway_tls.address,
        certificate: files.certificate.bundle.clone(),
        stats: first.gateway_stats.address,
        edge_limit: files.edge_limit,
        application_http: group(ServiceKind::Application, |l| {
            Replica::direct(reachable(l.application_http.address))
        }),
        application_grpc: group(ServiceKind::Application, |l| {
            Replica::new(
                reachable(l.application_grpc.address),
                reachable(l.application_http.address),
            )
        }),
        process_grpc: group(ServiceKind::Process, |l| {
            Replica::new(
                reachable(l.process_grpc.address),
                reachable(l.process_http.address),
            )
        }),
        reports: group(ServiceKind::Reports, |l| {
            Replica::direct(reachable(l.report_http.address))
        }),
        web: group(ServiceKind::Web, |l| {
            Replica::direct(reachable(l.web.address))
        }),
    }
}

/// `program` in a directory of `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
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
            web: listen("WEB_ADDR", "127.0.0.1:8091"),
            gateway: listen("GATEWAY_ADDR", "127.0.0.1:8000"),
            gateway_tls: listen("GATEWAY_TLS_ADDR", "127.0.0.1:8443"),
            gateway_stats: listen("GATEWAY_STATS_ADDR", "127.0.0.1:8404"),
        }
    }

    /// A second replica's listeners, as [`Listeners::claim_replicas`] would hand them out.
    fn second_replica() -> Listeners {
        let mut second = listeners();
        second.application_grpc.address = "127.0.0.1:41051".parse().expect("an address");
        second.application_http.address = "127.0.0.1:41080".parse().expect("an address");
        second.process_grpc.address = "127.0.0.1:41052".parse().expect("an address");
        second.process_http.address = "127.0.0.1:41081".parse().expect("an address");
        second.report_http.address = "127.0.0.1:41082".parse().expect("an address");
        second
    }

    fn programs() -> Programs {
        Programs {
            bin_dir: PathBuf::from("/opt/zayavki/bin"),
            launcher: PathBuf::from("/opt/zayavki/bin/zayavki"),
            haproxy: PathBuf::from("/usr/sbin/haproxy"),
        }
    }

    fn plan(services: &[ServiceKind]) -> Plan {
        plan_with_replicas(services, &[listeners()])
    }

    fn plan_with_replicas(services: &[ServiceKind], replicas: &[Listeners]) -> Plan {
        Plan::new(
            services,
            replicas,
            &programs(),
            &SharedConfig {
                jwt_secret: Some("a shared secret of at least thirty-two bytes".to_owned()),
                plain_output: true,
                gateway: Some(GatewayFiles {
                    config: PathBuf::from("/run/zayavki/haproxy.cfg"),
                    certificate: TlsCertificate {
                        bundle: PathBuf::from("/run/zayavki/gateway.pem"),
                        public: PathBuf::from("/run/zayavki/gateway.crt"),
                    },
                    edge_limit: Some(2000),
                }),
                search_index_dir: PathBuf::from("/var/lib/zayavki/index"),
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

    fn names(plan: &Plan) -> Vec<&str> {
        plan.children
            .iter()
            .map(|child| child.name.as_str())
            .collect()
    }

    #[test]
    fn every_service_runs_from_its_binary_with_the_shared_key_and_its_neighbours() {
        let plan = plan(&ServiceKind::ALL);

        let names = names(&plan);
        assert_eq!(
            names,
            [
                "application-service",
                "business-process",
                "report-service",
                "notification-sink",
                "web-server",
                "gateway"
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
            haproxy: dir.path().join("haproxy"),
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

        let error = programs
            .ensure_present(&[ServiceKind::Gateway])
            .expect_err("no haproxy")
            .to_string();
        assert!(error.contains("apt-get install -y haproxy"), "{error}");
    }

    #[test]
    fn replicas_run_under_numbered_names_behind_a_gateway_that_knows_them_all() {
        let plan = plan_with_replicas(&ServiceKind::ALL, &[listeners(), second_replica()]);

        let names = names(&plan);
        assert_eq!(
            names,
            [
                "application-service",
                "application-service-2",
                "business-process",
                "business-process-2",
                "report-service",
                "report-service-2",
                "notification-sink",
                "web-server",
                "gateway"
            ]
        );
        let second = child(&plan, "application-service-2");
        assert_eq!(
            env(second, "APPLICATION_HTTP_ADDR"),
            Some("127.0.0.1:41080")
        );
        assert_eq!(env(second, "TRUSTED_PROXIES"), Some(GATEWAY_PROXIES));
        assert_eq!(
            env(second, "SEARCH_INDEX_DIR"),
            Some("/var/lib/zayavki/index-2")
        );
        assert_eq!(
            env(child(&plan, "application-service"), "SEARCH_INDEX_DIR"),
            None,
            "the first replica uses the configured one"
        );
        assert_eq!(second.ready_url, "http://127.0.0.1:41080/readyz");
        assert_eq!(
            env(child(&plan, "report-service-2"), "APPLICATION_SERVICE_URL"),
            Some("http://127.0.0.1:50051")
        );
        assert_eq!(
            env(child(&plan, "notification-sink"), "TRUSTED_PROXIES"),
            None
        );

        let gateway = child(&plan, "gateway");
        assert_eq!(gateway.program, PathBuf::from("/usr/sbin/haproxy"));
        assert_eq!(gateway.args, ["-db", "-f", "/run/zayavki/haproxy.cfg"]);
        assert_eq!(gateway.ready_url, "http://127.0.0.1:8404/ready");

        let routes = plan.gateway.expect("the gateway runs");
        assert_eq!(routes.application_grpc.len(), 2);
        assert_eq!(
            routes.process_grpc[1],
            Replica::new(
                "127.0.0.1:41052".parse::<SocketAddr>().expect("an address"),
                "127.0.0.1:41081".parse::<SocketAddr>().expect("an address"),
            )
        );
        assert_eq!(routes.reports.len(), 2);
        assert_eq!(routes.web.len(), 1);
        assert_eq!(plan.addresses.replicas, 2);
        assert!(plan.addresses.render().starts_with("gateway"));
    }
}
