//! Where the started services listen, as printed at start-up and recorded in the state file.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::PathBuf,
};

use serde::{Deserialize, Serialize};

/// Every address a person or a client on this machine uses; a service that does not run here
/// has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Addresses {
    /// The one entry point, when it runs.
    #[serde(default)]
    pub gateway: Option<GatewayAddresses>,
    /// The web app's own file server (the gateway serves it under `/app/`).
    #[serde(default)]
    pub web: Option<SocketAddr>,
    /// Replicas of each of application-service, business-process and report-service; the
    /// addresses below are the first replica's.
    #[serde(default = "one")]
    pub replicas: usize,
    pub application: Option<ApplicationAddresses>,
    pub process: Option<ProcessAddresses>,
    /// report-service's HTTP port: the report API, downloads and the WebSocket.
    pub reports: Option<SocketAddr>,
    /// The development notification sink, when one runs (`NOTIFIER_URL` unset).
    pub notification_sink: Option<SocketAddr>,
    pub rabbitmq_ui: RabbitMqUi,
}

fn one() -> usize {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayAddresses {
    /// HTTP/1.1 and h2c: REST, gRPC, gRPC-Web, the WebSocket, the web app.
    pub http: SocketAddr,
    /// The same over TLS, HTTP/2 offered first.
    pub https: SocketAddr,
    /// The stats page (`/stats`) and Prometheus metrics (`/metrics`).
    pub stats: SocketAddr,
    /// The PEM certificate `https` presents, for clients to trust (generated for development
    /// unless configured).
    pub certificate: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationAddresses {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessAddresses {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

/// RabbitMQ's management UI and how to log in to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RabbitMqUi {
    pub url: String,
    /// `guest/guest` for the default account; otherwise which account of `AMQP_URL` to use (its
    /// password is never printed).
    pub login: String,
}

impl RabbitMqUi {
    /// `RABBITMQ_MANAGEMENT_URL` when given; otherwise port 15672 on the host of `amqp_url`.
    pub fn new(amqp_url: &str, management_url: Option<String>) -> Self {
        let parsed = reqwest::Url::parse(amqp_url).ok();
        let host = parsed
            .as_ref()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let url = management_url.unwrap_or_else(|| format!("http://{host}:15672"));
        let login = match parsed.as_ref().map(|url| (url.username(), url.password())) {
            Some(("guest", Some("guest"))) | Some(("", None)) | None => "guest/guest".to_owned(),
            Some((user, _)) => format!("user {user:?} of AMQP_URL, with its password"),
        };
        Self { url, login }
    }
}

impl Addresses {
    /// One line per service, with addresses a client on this machine can use.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Some(gateway) = &self.gateway {
            let (http, https) = (gateway.http, gateway.https);
            text.push_str(&format!(
                "gateway              http://{http} (REST, gRPC h2c, gRPC-Web, WebSocket /ws, /reports), \
                 https://{https} (HTTP/2; trust {})\n",
                gateway.certificate.display()
            ));
            if self.web.is_some() {
                text.push_str(&format!("web app              http://{http}/app/\n"));
            }
            text.push_str(&format!(
                "gateway stats        http://{0}/stats, Prometheus http://{0}/metrics\n",
                gateway.stats
            ));
            text.push_str(&if self.replicas > 1 {
                format!(
                    "Each service directly ({} replicas each; the first one's addresses):\n",
                    self.replicas
                )
            } else {
                "Each service directly:\n".to_owned()
            });
        } else if let Some(web) = self.web {
            text.push_str(&format!("web app              http://{web}/app/\n"));
        }
        if let Some(application) = &self.application {
            text.push_str(&format!(
                "application-service  gRPC {} (gRPC-Web, health, reflection), REST http://{}\n",
                application.grpc, application.http
            ));
        }
        if let Some(process) = &self.process {
            text.push_str(&format!(
                "business-process     gRPC {} (gRPC-Web, health, reflection), HTTP http://{} (/healthz /readyz /metrics)\n",
                process.grpc, process.http
            ));
        }
        if let Some(reports) = self.reports {
            text.push_str(&format!(
                "report-service       WebSocket ws://{reports}/ws, downloads http://{reports}/reports (/healthz /readyz /metrics)\n"
            ));
        }
        match (self.notification_sink, &self.process) {
            (Some(sink), _) => text.push_str(&format!(
                "notification sink    http://{sink}/notifications (GET lists what business-process sent)\n"
            )),
            (None, Some(_)) => text.push_str("notifications        sent to NOTIFIER_URL\n"),
            (None, None) => {}
        }
        text.push_str(&format!(
            "RabbitMQ UI          {} (login {})\n",
            self.rabbitmq_ui.url, self.rabbitmq_ui.login
        ));
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

    fn address(raw: &str) -> SocketAddr {
        raw.parse().expect(raw)
    }

    fn every_service() -> Addresses {
        Addresses {
            gateway: Some(GatewayAddresses {
                http: address("127.0.0.1:8000"),
                https: address("127.0.0.1:8443"),
                stats: address("127.0.0.1:8404"),
                certificate: PathBuf::from("/run/zayavki/gateway.pem"),
            }),
            web: Some(address("127.0.0.1:8091")),
            replicas: 2,
            application: Some(ApplicationAddresses {
                grpc: address("127.0.0.1:50051"),
                http: address("127.0.0.1:8080"),
            }),
            process: Some(ProcessAddresses {
                grpc: address("127.0.0.1:50052"),
                http: address("127.0.0.1:8081"),
            }),
            reports: Some(address("127.0.0.1:8082")),
            notification_sink: Some(address("127.0.0.1:8090")),
            rabbitmq_ui: RabbitMqUi::new("amqp://guest:guest@127.0.0.1:5672/%2f", None),
        }
    }

    #[test]
    fn listeners_on_every_interface_are_reached_through_loopback() {
        let cases = [
            ("0.0.0.0:50052", "127.0.0.1:50052"),
            ("[::]:8081", "[::1]:8081"),
            ("127.0.0.1:8090", "127.0.0.1:8090"),
            ("10.0.0.5:8080", "10.0.0.5:8080"),
        ];
        for (listening, expected) in cases {
            assert_eq!(reachable(address(listening)).to_string(), expected);
        }
    }

    #[test]
    fn every_address_is_printed() {
        let rendered = every_service().render();
        assert!(
            rendered.starts_with("gateway              http://127.0.0.1:8000 "),
            "the gateway first:\n{rendered}"
        );
        for expected in [
            "https://127.0.0.1:8443",
            "http://127.0.0.1:8000/app/",
            "http://127.0.0.1:8404/metrics",
            "2 replicas each",
            "gRPC 127.0.0.1:50051",
            "REST http://127.0.0.1:8080",
            "gRPC 127.0.0.1:50052",
            "http://127.0.0.1:8081",
            "ws://127.0.0.1:8082/ws",
            "http://127.0.0.1:8082/reports",
            "http://127.0.0.1:8090/notifications",
            "http://127.0.0.1:15672 (login guest/guest)",
        ] {
            assert!(rendered.contains(expected), "{expected} in\n{rendered}");
        }
    }

    #[test]
    fn the_sink_line_says_where_notifications_go() {
        let mut addresses = every_service();
        addresses.notification_sink = None;
        let rendered = addresses.render();
        assert!(!rendered.contains("8090"), "{rendered}");
        assert!(rendered.contains("NOTIFIER_URL"), "{rendered}");

        addresses.process = None;
        assert!(!addresses.render().contains("NOTIFIER_URL"));
    }

    #[test]
    fn the_management_ui_is_on_the_broker_host_and_never_shows_a_password() {
        let default = RabbitMqUi::new("amqp://guest:guest@127.0.0.1:5672/%2f", None);
        assert_eq!(default.url, "http://127.0.0.1:15672");
        assert_eq!(default.login, "guest/guest");

        let own = RabbitMqUi::new("amqp://zayavki:s3cret@rabbit.internal:5672/prod", None);
        assert_eq!(own.url, "http://rabbit.internal:15672");
        assert!(own.login.contains("zayavki"), "{}", own.login);
        assert!(!own.login.contains("s3cret"), "{}", own.login);

        let configured = RabbitMqUi::new(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            Some("http://127.0.0.1:25672".to_owned()),
        );
        assert_eq!(configured.url, "http://127.0.0.1:25672");
    }
}
