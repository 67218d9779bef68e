//! Where the started services listen, as printed at start-up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    pub application_grpc: SocketAddr,
    pub application_http: SocketAddr,
    pub process_grpc: SocketAddr,
    pub process_http: SocketAddr,
    /// The development notification sink, when one was started (`NOTIFIER_URL` unset).
    pub notification_sink: Option<SocketAddr>,
}

impl Addresses {
    /// One line per service, with addresses a client on this machine can use.
    pub fn render(&self) -> String {
        let mut text = format!(
            "application-service  gRPC {} (gRPC-Web, health, reflection), REST http://{}\n\
             business-process     gRPC {} (gRPC-Web, health, reflection), HTTP http://{} (/healthz /readyz /metrics)\n",
            reachable(self.application_grpc),
            reachable(self.application_http),
            reachable(self.process_grpc),
            reachable(self.process_http),
        );
        match self.notification_sink {
            Some(sink) => text.push_str(&format!(
                "notification sink    http://{}/notifications (GET lists what business-process sent)\n",
                reachable(sink)
            )),
            None => text.push_str("notifications        sent to NOTIFIER_URL\n"),
        }
        text
    }
}

/// The address a client on this machine connects to: a listener on every interface
/// (`0.0.0.0`, `::`) is reached through loopback.
pub fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), address.port())
        }
        _ => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_on_every_interface_are_reached_through_loopback() {
        let cases = [
            ("0.0.0.0:50052", "127.0.0.1:50052"),
            ("[::]:8081", "[::1]:8081"),
            ("127.0.0.1:8090", "127.0.0.1:8090"),
            ("10.0.0.5:8080", "10.0.0.5:8080"),
        ];
        for (listening, expected) in cases {
            let listening: SocketAddr = listening.parse().expect(listening);
            assert_eq!(reachable(listening).to_string(), expected, "{listening}");
        }
    }

    #[test]
    fn the_sink_line_says_where_notifications_go() {
        let address = |raw: &str| raw.parse::<SocketAddr>().expect(raw);
        let mut addresses = Addresses {
            application_grpc: address("0.0.0.0:50051"),
            application_http: address("127.0.0.1:8080"),
            process_grpc: address("127.0.0.1:50052"),
            process_http: address("127.0.0.1:8081"),
            notification_sink: Some(address("127.0.0.1:8090")),
        };
        let rendered = addresses.render();
        assert!(rendered.contains("gRPC 127.0.0.1:50051"), "{rendered}");
        assert!(rendered.contains("gRPC 127.0.0.1:50052"), "{rendered}");
        assert!(rendered.contains("http://127.0.0.1:8081"), "{rendered}");
        assert!(
            rendered.contains("http://127.0.0.1:8090/notifications"),
            "{rendered}"
        );
        addresses.notification_sink = None;
        let rendered = addresses.render();
        assert!(!rendered.contains("8090"), "{rendered}");
        assert!(rendered.contains("NOTIFIER_URL"), "{rendered}");
    }
}
