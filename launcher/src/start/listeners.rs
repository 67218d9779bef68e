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
        })
    }

    /// Checks that every address `services` listen on is free, and replaces port 0 with a free
    /// port. All are bound at once, so no two get the same port.
    pub fn claim(mut self, services: &[ServiceKind]) -> anyhow::Result<Self> {
        let mut held = Vec::new();
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
        drop(held);
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
