//! The gateway's HAProxy configuration, rendered from `gateway/haproxy.cfg.template` with the
//! addresses of every replica of each service.

use std::{fmt::Write as _, net::SocketAddr, path::PathBuf};

use anyhow::{Context, bail};

/// The template, as kept in `gateway/`.
pub const TEMPLATE: &str = include_str!("../../../gateway/haproxy.cfg.template");
/// Requests per client address per 10 s before the edge throttles: 200 a second, twice the
/// services' own per-person refill (`RATE_LIMIT_PER_SECOND`, 100), so a person meets the
/// service's limit first and the edge only stops an address flooding on behalf of many.
pub const DEFAULT_EDGE_LIMIT: u32 = 2000;

/// Where a replica is reached: `host:port`, the host an IP address or a name HAProxy resolves
/// when it starts (a compose service, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// `host:port` (`[v6]:port` for an IPv6 address).
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        if let Ok(address) = raw.parse::<SocketAddr>() {
            return Ok(address.into());
        }
        let (host, port) = raw
            .rsplit_once(':')
            .with_context(|| format!("{raw:?} is not host:port"))?;
        anyhow::ensure!(!host.is_empty(), "{raw:?} names no host");
        let port = port
            .parse()
            .with_context(|| format!("{raw:?} has no valid port"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(address: SocketAddr) -> Self {
        Self {
            host: address.ip().to_string(),
            port: address.port(),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(formatter, "[{}]:{}", self.host, self.port)
        } else {
            write!(formatter, "{}:{}", self.host, self.port)
        }
    }
}

/// One replica: where its traffic goes, and the HTTP port answering `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub traffic: Endpoint,
    pub health: Endpoint,
}

impl Replica {
    pub fn new(traffic: impl Into<Endpoint>, health: impl Into<Endpoint>) -> Self {
        Self {
            traffic: traffic.into(),
            health: health.into(),
        }
    }

    /// A replica whose traffic and health checks share one HTTP port.
    pub fn direct(address: impl Into<Endpoint>) -> Self {
        let address = address.into();
        Self {
            traffic: address.clone(),
            health: address,
        }
    }
}

/// Everything the template needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayPlan {
    pub listen: SocketAddr,
    pub tls: SocketAddr,
    /// PEM: the certificate chain and its private key.
    pub certificate: PathBuf,
    pub stats: SocketAddr,
    /// Requests per client address per 10 s; `None`: no edge throttling.
    pub edge_limit: Option<u32>,
    pub application_http: Vec<Replica>,
    pub application_grpc: Vec<Replica>,
    pub process_grpc: Vec<Replica>,
    pub reports: Vec<Replica>,
    /// The web app's static file server.
    pub web: Vec<Replica>,
}

impl GatewayPlan {
    /// The HAProxy configuration.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut config = String::with_capacity(TEMPLATE.len() * 2);
        for line in TEMPLATE.lines() {
            let trimmed = line.trim_start();
            // Comments keep their words, placeholders included.
            if trimmed.starts_with('#') {
                config.push_str(line);
                config.push('\n');
                continue;
            }
            if let Some(directive) = trimmed
                .strip_prefix("{{servers ")
                .and_then(|rest| rest.strip_suffix("}}"))
            {
                let indent = &line[..line.len() - trimmed.len()];
                self.render_servers(&mut config, indent, directive)
                    .with_context(|| format!("in template line {line:?}"))?;
                continue;
            }
            // No limit: a rate no counter reaches.
            let edge_limit = self.edge_limit.unwrap_or(u32::MAX);
            let line = line
                .replace("{{every_server_up}}", &self.every_server_up())
                .replace("{{listen}}", &self.listen.to_string())
                .replace("{{tls}}", &self.tls.to_string())
                .replace("{{certificate}}", &self.certificate.display().to_string())
                .replace("{{stats}}", &self.stats.to_string())
                .replace("{{edge_limit}}", &edge_limit.to_string());
            if line.contains("{{") {
                bail!("unknown placeholder in template line {line:?}");
            }
            config.push_str(&line);
            config.push('\n');
        }
        Ok(config)
    }

    /// `{ nbsrv(BACKEND) eq N }` for every backend whose servers are health-checked (the others
    /// track them), from the template's own `{{servers GROUP … check}}` lines.
    fn every_server_up(&self) -> String {
        let mut backend = None;
        let mut conditions = Vec::new();
        for line in TEMPLATE.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("backend ") {
                backend = Some(name.trim());
            }
            let checked = line
                .strip_prefix("{{servers ")
                .and_then(|rest| rest.strip_suffix("}}"))
                .filter(|directive| directive.ends_with(" check"));
            if let (Some(name), Some(directive)) = (backend, checked) {
                let group = directive.split_whitespace().next().unwrap_or_default();
                let servers = self.group(group).map_or(0, <[Replica]>::len);
                if servers > 0 {
                    conditions.push(format!("{{ nbsrv({name}) eq {servers} }}"));
                }
            }
        }
        conditions.join(" ")
    }

    fn group(&self, name: &str) -> anyhow::Result<&[Replica]> {
        Ok(match name {
            "application-http" => &self.application_http,
            "application-grpc" => &self.application_grpc,
            "process-grpc" => &self.process_grpc,
            "reports" => &self.reports,
            "web" => &self.web,
            other => bail!("unknown server group {other:?}"),
        })
    }

    /// `GROUP [h2] check` or `GROUP [h2] track BACKEND`: one server line per replica.
    fn render_servers(
        &self,
        out: &mut String,
        indent: &str,
        directive: &str,
    ) -> anyhow::Result<()> {
        let mut words = directive.split_whitespace();
        let group = words.next().context("a server group")?;
        let replicas = self.group(group)?;
        let mut h2 = false;
        let mut health = None;
        while let Some(word) = words.next() {
            match word {
                "h2" => h2 = true,
                "check" => health = Some(Health::Check),
                "track" => {
                    health = Some(Health::Track(words.next().context("a backend to track")?))
                }
                other => bail!("unknown server option {other:?}"),
            }
        }
        let health = health.context("`check` or `track BACKEND`")?;
        for (index, replica) in replicas.iter().enumerate() {
            let name = format!("{group}-{}", index + 1);
            write!(out, "{indent}server {name} {}", replica.traffic)?;
            if h2 {
                out.push_str(" proto h2");
            }
            match health {
                Health::Check => {
                    out.push_str(" check");
                    if replica.health != replica.traffic {
                        write!(
                            out,
                            " addr {} port {} check-proto h1",
                            replica.health.host, replica.health.port
                        )?;
                    }
                }
                Health::Track(backend) => write!(out, " track {backend}/{name}")?,
            }
            out.push('\n');
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Health<'a> {
    Check,
    Track(&'a str),
}

#[cfg(test)]
impl Replica {
    /// A replica on loopback.
    pub fn on_loopback(traffic: u16, health: u16) -> Self {
        Self::new(
            SocketAddr::from(([127, 0, 0, 1], traffic)),
            SocketAddr::from(([127, 0, 0, 1], health)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(traffic: u16, health: u16) -> Replica {
        Replica::on_loopback(traffic, health)
    }

    fn plan() -> GatewayPlan {
        GatewayPlan {
            listen: "127.0.0.1:8000".parse().expect("an address"),
            tls: "127.0.0.1:8443".parse().expect("an address"),
            certificate: PathBuf::from("/run/zayavki/gateway.pem"),
            stats: "127.0.0.1:8404".parse().expect("an address"),
            edge_limit: Some(7),
            application_http: vec![replica(8080, 8080), replica(9080, 9080)],
            application_grpc: vec![replica(50051, 8080), replica(51051, 9080)],
            process_grpc: vec![replica(50052, 8081)],
            reports: vec![replica(8082, 8082)],
            web: vec![replica(8091, 8091)],
        }
    }

    #[test]
    fn every_placeholder_is_replaced() {
        let config = plan().render().expect("rendered");
        assert!(
            config
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .all(|line| !line.contains("{{")),
            "{config}"
        );
        assert!(config.contains("bind 127.0.0.1:8000\n"));
        assert!(config.contains("bind 127.0.0.1:8404\n"));
        assert!(config.contains("gt 7\n"));
    }

    #[test]
    fn grpc_servers_speak_h2_and_are_checked_on_the_http_port() {
        let config = plan().render().expect("rendered");
        assert!(config.contains(
            "server application-grpc-2 127.0.0.1:51051 proto h2 check addr 127.0.0.1 port 9080 check-proto h1\n"
        ));
        assert!(config.contains(
            "server application-grpc-2 127.0.0.1:51051 track grpc_application/application-grpc-2\n"
        ));
        assert!(config.contains("server reports-1 127.0.0.1:8082 check\n"));
    }

    #[test]
    fn endpoints_are_addresses_or_host_names_with_a_port() {
        let named = Endpoint::parse("application-service:8080").expect("a name");
        assert_eq!(named.host, "application-service");
        assert_eq!(named.to_string(), "application-service:8080");
        assert_eq!(
            Endpoint::parse("[::1]:8080").expect("v6").to_string(),
            "[::1]:8080"
        );
        for wrong in ["application-service", ":8080", "host:port", "host:70000"] {
            assert!(Endpoint::parse(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn ready_means_every_checked_backend_has_all_its_servers_up() {
        let config = plan().render().expect("rendered");
        let ready = config
            .lines()
            .find(|line| line.contains("string \"ready\""))
            .expect("a ready answer");
        for condition in [
            "{ nbsrv(rest_application) eq 2 }",
            "{ nbsrv(grpc_application) eq 2 }",
            "{ nbsrv(grpc_process) eq 1 }",
            "{ nbsrv(reports) eq 1 }",
            "{ nbsrv(web) eq 1 }",
        ] {
            assert!(ready.contains(condition), "{condition} in {ready}");
        }
        assert!(
            !ready.contains("rest_application_read"),
            "tracking backends follow: {ready}"
        );
    }

    #[test]
    fn a_service_without_replicas_has_no_servers() {
        let config = GatewayPlan {
            process_grpc: Vec::new(),
            ..plan()
        }
        .render()
        .expect("as expected");
        assert!(!config.contains("server process-grpc"));
    }
}
