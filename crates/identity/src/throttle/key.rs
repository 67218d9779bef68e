//! Whose bucket a request is charged to.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
};

use axum::extract::ConnectInfo;
use http::{Extensions, HeaderMap};
use tonic::transport::server::TcpConnectInfo;

use crate::{Identity, Role};

/// Whose bucket a request is charged to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// An authenticated person, whatever address they call from.
    Subject(String),
    /// An authenticated caller with the `service` role: another service, limited separately
    /// from people and more generously.
    Service(String),
    /// An anonymous caller.
    Address(IpAddr),
    /// Neither an identity nor a peer address is known; these share one bucket.
    Unidentified,
}

impl ThrottleKey {
    pub fn for_identity(identity: &Identity) -> Self {
        if identity.has_role(Role::Service) {
            Self::Service(identity.subject.clone())
        } else {
            Self::Subject(identity.subject.clone())
        }
    }

    /// The identity attached by an auth layer, else the peer address that tonic
    /// (`TcpConnectInfo`) or axum (`ConnectInfo<SocketAddr>`) recorded.
    pub fn from_extensions(extensions: &Extensions) -> Self {
        Self::from_request(extensions, &HeaderMap::new(), &[])
    }

    /// Like [`ThrottleKey::from_extensions`], but an anonymous caller whose peer is one of the
    /// `trusted` proxies is known by the client address that proxy put in `X-Forwarded-For`.
    pub fn from_request(extensions: &Extensions, headers: &HeaderMap, trusted: &[IpAddr]) -> Self {
        if let Some(identity) = extensions.get::<Identity>() {
            return Self::for_identity(identity);
        }
        let address = extensions
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| {
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(address)| *address)
            });
        address.map_or(Self::Unidentified, |address| {
            Self::Address(client_address(address.ip(), headers, trusted))
        })
    }

    /// Whether the service limit applies rather than the one for people.
    pub fn is_service(&self) -> bool {
        matches!(self, Self::Service(_))
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the address that
/// proxy forwarded for. Each proxy appends the address it received the request from, so the
/// list is read from the right, past every trusted proxy, to the first address that is not one.
/// An entry that is no address ends the walk at the last trusted hop.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Ok(address) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !trusted.contains(&address) {
            break;
        }
    }
    client
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

impl fmt::Display for ThrottleKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subject(subject) => write!(formatter, "subject {subject}"),
            Self::Service(subject) => write!(formatter, "service {subject}"),
            Self::Address(address) => write!(formatter, "address {address}"),
            Self::Unidentified => formatter.write_str("unidentified caller"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_prefers_the_identity_over_the_address() {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 4000))));
        assert_eq!(
            ThrottleKey::from_extensions(&extensions),
            ThrottleKey::Address([10, 0, 0, 7].into())
        );

        extensions.insert(Identity::new("user-1"));
        assert_eq!(
            ThrottleKey::from_extensions(&extensions),
            ThrottleKey::Subject("user-1".to_owned())
        );
    }

    fn anonymous_from(peer: [u8; 4], forwarded: &[&str], trusted: &[IpAddr]) -> ThrottleKey {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from((peer, 4000))));
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(X_FORWARDED_FOR, value.parse().expect("a header value"));
        }
        ThrottleKey::from_request(&extensions, &headers, trusted)
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let gateway = IpAddr::from([127, 0, 0, 1]);
        let inner = IpAddr::from([10, 0, 0, 2]);
        let client = ThrottleKey::Address([203, 0, 113, 9].into());

        assert_eq!(
            anonymous_from([127, 0, 0, 1], &["203.0.113.9"], &[gateway]),
            client
        );
        assert_eq!(
            anonymous_from([127, 0, 0, 1], &["203.0.113.9"], &[]),
            ThrottleKey::Address(gateway),
            "not trusted: the header is the caller's word"
        );
        assert_eq!(
            anonymous_from([198, 51, 100, 7], &["203.0.113.9"], &[gateway]),
            ThrottleKey::Address([198, 51, 100, 7].into()),
            "a direct caller cannot pretend"
        );
        assert_eq!(
            anonymous_from(
                [127, 0, 0, 1],
                &["192.0.2.66, 203.0.113.9", "10.0.0.2"],
                &[gateway, inner]
            ),
            client,
            "read from the right past every trusted hop; what the client wrote is ignored"
        );
        assert_eq!(
            anonymous_from([127, 0, 0, 1], &["unknown"], &[gateway]),
            ThrottleKey::Address(gateway)
        );
        assert_eq!(
            anonymous_from([127, 0, 0, 1], &[], &[gateway]),
            ThrottleKey::Address(gateway)
        );
    }

    #[test]
    fn callers_with_the_service_role_get_a_service_key() {
        let service = Identity::new("business-process").with_role(Role::Service);
        let person = Identity::new("olga").with_role(Role::Operator);

        assert_eq!(
            ThrottleKey::for_identity(&service),
            ThrottleKey::Service("business-process".to_owned())
        );
        assert!(!ThrottleKey::for_identity(&person).is_service());
    }
}
