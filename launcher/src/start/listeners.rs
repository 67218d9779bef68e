//! Where each service listens: the `*_ADDR` variables the services read, with their defaults.
//! Before anything starts, each address the chosen services need is checked to be free (a
//! clear error instead of a service failing on its port), and port 0 becomes a free port, so
//! the supervisor knows every address it hands out and prints.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use zayavki_common::config::env_parse;

use super::services::ServiceKind;

/// One listening address: the variable that sets it and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    pub variable: &'static str,
    pub address: SocketAddr,
}

impl Listen {
    fn from_env(variable: &'static str, default_port: u16) -> anyhow::Result<Self> {
        let default = SocketAddr::from(([127, 0, 0, 1], default_port));
        Ok(Self {
            variable,
            address: env_parse(variable, default)?,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listeners {
    pub application_grpc: Listen,
    pub application_http: Listen,
    pub process_grpc: Listen,
    pub process_http: Listen,
    pub report_http: Listen,
    pub sink: Listen,
    pub web: Listen,
    /// The gateway's cleartext port (HTTP/1.1 and h2c).
    pub gateway: Listen,
    /// The gateway's TLS port (HTTP/2 and HTTP/1.1).
    pub gateway_tls: Listen,
    /// The gateway's stats page and Prometheus metrics.
    pub gateway_stats: Listen,
}

impl Listeners {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            application_grpc: Listen::from_env("APPLICATION_GRPC_ADDR", 50051)?,
            application_http: Listen::from_env("APPLICATION_HTTP_ADDR", 8080)?,
            process_grpc: Listen::from_env("PROCESS_GRPC_ADDR", 50052)?,
            process_http: Listen::from_env("PROCESS_HTTP_ADDR", 8081)?,
            report_http: Listen::from_env("REPORT_HTTP_ADDR", 8082)?,
            sink: Listen::from_env("NOTIFICATION_SINK_ADDR", 8090)?,
            web: Listen::from_env("WEB_ADDR", 8091)?,
            gateway: Listen::from_env("GATEWAY_ADDR", 8000)?,
            gateway_tls: Listen::from_env("GATEWAY_TLS_ADDR", 8443)?,
            gateway_stats: Listen::from_env("GATEWAY_STATS_ADDR", 8404)?,
        })
    }

    /// The listeners of a further replica of the replicated services: the same interfaces, on
    /// ports the operating system picks when they are claimed.
    pub fn further_replica(&self) -> Self {
        let free = |listen: Listen| Listen {
            address: std::net::SocketAddr::new(listen.address.ip(), 0),
            ..listen
        };
        Self {
            application_grpc: free(self.application_grpc),
            application_http: free(self.application_http),
            process_grpc: free(self.process_grpc),
            process_http: free(self.process_http),
            report_http: free(self.report_http),
            ..*self
        }
    }

    /// Checks that every address `services` listen on is free, and replaces port 0 with a free
    /// port. All are bound at once, so no two get the same port.
    pub fn claim(self, services: &[ServiceKind]) -> anyhow::Result<Self> {
        let mut held = Vec::new();
        self.claim_holding(services, &mut held)
    }

    /// [`Listeners::claim`] for `replicas` replicas of the replicated services: the first on
    /// these addresses (with every other service chosen), each further one on free ports. All
    /// are bound at once, so no two get the same port.
    pub fn claim_replicas(
        self,
        services: &[ServiceKind],
        replicas: usize,
    ) -> anyhow::Result<Vec<Self>> {
        let mut held = Vec::new();
        let first = self.claim_holding(services, &mut held)?;
        let replicated: Vec<ServiceKind> = services
            .iter()
            .copied()
            .filter(|kind| kind.is_replicated())
            .collect();
        let mut all = vec![first];
        for _ in 1..replicas {
            all.push(
                first
                    .further_replica()
                    .claim_holding(&replicated, &mut held)?,
            );
        }
        Ok(all)
    }

    fn claim_holding(
        mut self,
        services: &[ServiceKind],
        held: &mut Vec<TcpListener>,
    ) -> anyhow::Result<Self> {
        for listen in self.of_mut(services) {
            let listener = TcpListener::bind(listen.address).map_err(|error| {
                let reason = if error.kind() == std::io::ErrorKind::AddrInUse {
                    "is in use by another program".to_owned()
                } else {
                    format!("cannot be listened on ({error})")
                };
                anyhow::anyhow!(
                    "{} ({}) {reason}: stop what listens there, or set {} to another address",
                    listen.address,
                    listen.variable,
                    listen.variable
                )
            })?;
            listen.address = listener
                .local_addr()
                .with_context(|| format!("{} has no local address", listen.variable))?;
            held.push(listener);
        }
        Ok(self)
    }

    fn of_mut(&mut self, services: &[ServiceKind]) -> Vec<&mut Listen> {
        let mut listens = Vec::new();
        if services.contains(&ServiceKind::Application) {
            listens.push(&mut self.application_grpc);
            listens.push(&mut self.application_http);
        }
        if services.contains(&ServiceKind::Process) {
            listens.push(&mut self.process_grpc);
            listens.push(&mut self.process_http);
        }
        if services.contains(&ServiceKind::Reports) {
            listens.push(&mut self.report_http);
        }
        if services.contains(&ServiceKind::Sink) {
            listens.push(&mut self.sink);
        }
        if services.contains(&ServiceKind::Web) {
            listens.push(&mut self.web);
        }
        if services.contains(&ServiceKind::Gateway) {
            listens.push(&mut self.gateway);
            listens.push(&mut self.gateway_tls);
            listens.push(&mut self.gateway_stats);
        }
        listens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn all_on(port: u16) -> Listeners {
        let listen = |variable| Listen {
            variable,
            address: loopback(port),
        };
        Listeners {
            application_grpc: listen("APPLICATION_GRPC_ADDR"),
            application_http: listen("APPLICATION_HTTP_ADDR"),
            process_grpc: listen("PROCESS_GRPC_ADDR"),
            process_http: listen("PROCESS_HTTP_ADDR"),
            report_http: listen("REPORT_HTTP_ADDR"),
            sink: listen("NOTIFICATION_SINK_ADDR"),
            web: listen("WEB_ADDR"),
            gateway: listen("GATEWAY_ADDR"),
            gateway_tls: listen("GATEWAY_TLS_ADDR"),
            gateway_stats: listen("GATEWAY_STATS_ADDR"),
        }
    }

    #[test]
    fn port_zero_becomes_a_distinct_free_port_for_each_needed_address() {
        let claimed = all_on(0)
            .claim(&[ServiceKind::Application, ServiceKind::Reports])
            .expect("free ports");
        let ports = [
            claimed.application_grpc.address.port(),
            claimed.application_http.address.port(),
            claimed.report_http.address.port(),
        ];
        assert!(ports.iter().all(|port| *port != 0), "{ports:?}");
        assert_ne!(ports[0], ports[1]);
        assert_ne!(ports[1], ports[2]);
        assert_ne!(ports[0], ports[2]);
        assert_eq!(
            claimed.process_grpc.address.port(),
            0,
            "not needed, untouched"
        );
    }

    #[test]
    fn further_replicas_get_ports_of_their_own_and_share_the_rest() {
        let mut first = all_on(0);
        first.sink.address = loopback(1);
        let replicas = first
            .claim_replicas(&[ServiceKind::Application, ServiceKind::Reports], 3)
            .expect("free ports");
        assert_eq!(replicas.len(), 3);
        let mut ports: Vec<u16> = replicas
            .iter()
            .flat_map(|replica| {
                [
                    replica.application_grpc.address.port(),
                    replica.application_http.address.port(),
                    replica.report_http.address.port(),
                ]
            })
            .collect();
        assert!(ports.iter().all(|port| *port != 0), "{ports:?}");
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 9, "every replica's ports are distinct");
        assert!(
            replicas
                .iter()
                .all(|replica| replica.sink.address.port() == 1),
            "the sink is not replicated"
        );
    }

    #[test]
    fn an_address_in_use_is_named_with_its_variable() {
        let taken = TcpListener::bind(loopback(0)).expect("a listener");
        let port = taken.local_addr().expect("address").port();
        let mut listeners = all_on(0);
        listeners.report_http.address = loopback(port);

        let error = listeners
            .claim(&[ServiceKind::Reports])
            .expect_err("the port is taken");
        let message = error.to_string();
        assert!(message.contains("REPORT_HTTP_ADDR"), "{message}");
        assert!(message.contains("in use"), "{message}");
        assert!(message.contains(&port.to_string()), "{message}");
    }
}
