//! `zayavki gateway`: the gateway without the start command (compose runs it so). The replicas
//! come from the environment as `host:port` lists, HAProxy resolves their names when it starts,
//! and the process becomes HAProxy once the configuration is written and checked.

use std::{
    net::SocketAddr,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use zayavki_common::{
    config::{Variables, env_list, env_optional, env_parse},
    telemetry,
};

use super::{
    DEFAULT_EDGE_LIMIT, Endpoint, GatewayPlan, Replica, certificate, write_checked_config,
};

/// What [`plan_from_env`] and [`run`] read.
pub const VARIABLES: &[&str] = &[
    "GATEWAY_ADDR",
    "GATEWAY_TLS_ADDR",
    "GATEWAY_STATS_ADDR",
    "GATEWAY_EDGE_LIMIT",
    "GATEWAY_TLS_CERT",
    "GATEWAY_DIR",
    "HAPROXY_BIN",
    "GATEWAY_APPLICATION_HTTP",
    "GATEWAY_APPLICATION_GRPC",
    "GATEWAY_PROCESS_HTTP",
    "GATEWAY_PROCESS_GRPC",
    "GATEWAY_REPORTS",
    "GATEWAY_WEB",
];

pub fn variables() -> Variables {
    Variables::optional(VARIABLES).and(telemetry::variables())
}

/// The gateway's plan from the environment: `GATEWAY_APPLICATION_HTTP`, `GATEWAY_REPORTS` and
/// `GATEWAY_WEB` list HTTP replicas; `GATEWAY_APPLICATION_GRPC` and `GATEWAY_PROCESS_GRPC` list
/// gRPC replicas, each health-checked on the HTTP address at the same position of
/// `GATEWAY_APPLICATION_HTTP` / `GATEWAY_PROCESS_HTTP`. The TLS certificate is
/// `GATEWAY_TLS_CERT`, or a development one written into `dir`.
pub fn plan_from_env(dir: &Path) -> anyhow::Result<GatewayPlan> {
    let listen =
        |variable: &str, port: u16| env_parse(variable, SocketAddr::from(([0, 0, 0, 0], port)));
    let edge_limit: u32 = env_parse("GATEWAY_EDGE_LIMIT", DEFAULT_EDGE_LIMIT)?;
    let certificate = certificate(env_optional("GATEWAY_TLS_CERT").map(PathBuf::from), dir)?;
    let application_http = endpoints("GATEWAY_APPLICATION_HTTP")?;
    let process_http = endpoints("GATEWAY_PROCESS_HTTP")?;
    Ok(GatewayPlan {
        listen: listen("GATEWAY_ADDR", 8000)?,
        tls: listen("GATEWAY_TLS_ADDR", 8443)?,
        stats: listen("GATEWAY_STATS_ADDR", 8404)?,
        certificate: certificate.bundle,
        edge_limit: (edge_limit > 0).then_some(edge_limit),
        application_grpc: checked_on(
            "GATEWAY_APPLICATION_GRPC",
            endpoints("GATEWAY_APPLICATION_GRPC")?,
            &application_http,
        )?,
        application_http: application_http.into_iter().map(Replica::direct).collect(),
        process_grpc: checked_on(
            "GATEWAY_PROCESS_GRPC",
            endpoints("GATEWAY_PROCESS_GRPC")?,
            &process_http,
        )?,
        reports: direct("GATEWAY_REPORTS")?,
        web: direct("GATEWAY_WEB")?,
    })
}

/// Writes and checks the configuration in `GATEWAY_DIR` (default: `zayavki-gateway` in the
/// temporary directory), then replaces this process with HAProxy in the foreground.
pub async fn run() -> anyhow::Result<()> {
    let dir = env_optional("GATEWAY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("zayavki-gateway"));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the gateway's directory {}", dir.display()))?;
    let haproxy =
        PathBuf::from(env_optional("HAPROXY_BIN").unwrap_or_else(|| "haproxy".to_owned()));
    let plan = plan_from_env(&dir)?;
    let config = dir.join("haproxy.cfg");
    write_checked_config(&plan, &haproxy, &config).await?;
    tracing::info!(listen = %plan.listen, tls = %plan.tls, stats = %plan.stats, "gateway starting");
    let error = std::process::Command::new(&haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&config)
        .exec();
    Err(error).with_context(|| format!("cannot run {}", haproxy.display()))
}

fn endpoints(variable: &str) -> anyhow::Result<Vec<Endpoint>> {
    env_list(variable)
        .iter()
        .map(|raw| Endpoint::parse(raw).with_context(|| format!("in {variable}")))
        .collect()
}

fn direct(variable: &str) -> anyhow::Result<Vec<Replica>> {
    Ok(endpoints(variable)?
        .into_iter()
        .map(Replica::direct)
        .collect())
}

fn checked_on(
    variable: &str,
    traffic: Vec<Endpoint>,
    health: &[Endpoint],
) -> anyhow::Result<Vec<Replica>> {
    anyhow::ensure!(
        traffic.len() == health.len(),
        "{variable} lists {} replicas but their HTTP list {} (for health checks)",
        traffic.len(),
        health.len()
    );
    Ok(traffic
        .into_iter()
        .zip(health.iter().cloned())
        .map(|(traffic, health)| Replica::new(traffic, health))
        .collect())
}

#[cfg(test)]
mod tests {
    use zayavki_common::config::read_recorded;

    use super::*;

    #[test]
    fn replicas_come_from_host_lists_and_grpc_is_checked_on_http() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (plan, asked) = read_recorded(
            &[
                ("GATEWAY_APPLICATION_HTTP", "app-1:8080,app-2:8080"),
                ("GATEWAY_APPLICATION_GRPC", "app-1:50051,app-2:50051"),
                ("GATEWAY_PROCESS_HTTP", "process:8081"),
                ("GATEWAY_PROCESS_GRPC", "process:50052"),
                ("GATEWAY_REPORTS", "reports:8082"),
                ("GATEWAY_WEB", "web:8091"),
                ("GATEWAY_EDGE_LIMIT", "0"),
            ],
            || plan_from_env(dir.path()),
        );

        let plan = plan.expect("a plan");
        assert_eq!(plan.listen.to_string(), "0.0.0.0:8000");
        assert_eq!(plan.edge_limit, None);
        assert_eq!(plan.application_grpc.len(), 2);
        assert_eq!(plan.application_grpc[1].traffic.to_string(), "app-2:50051");
        assert_eq!(plan.application_grpc[1].health.to_string(), "app-2:8080");
        assert_eq!(plan.process_grpc[0].health.to_string(), "process:8081");
        assert_eq!(plan.web[0].traffic.to_string(), "web:8091");
        assert!(plan.certificate.is_file(), "a development certificate");
        let rendered = plan.render().expect("rendered");
        assert!(
            rendered.contains(
                "server application-grpc-2 app-2:50051 proto h2 check addr app-2 port 8080"
            )
        );
        for variable in &asked {
            assert!(variables().reads(variable), "{variable} is declared");
        }
    }

    #[test]
    fn a_grpc_list_without_its_http_twin_is_refused() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (plan, _) = read_recorded(&[("GATEWAY_PROCESS_GRPC", "process:50052")], || {
            plan_from_env(dir.path())
        });
        let error = plan.expect_err("no health address").to_string();
        assert!(error.contains("GATEWAY_PROCESS_GRPC"), "{error}");
    }
}
