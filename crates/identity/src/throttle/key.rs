//! Whose bucket a request is charged to.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
};

use axum::extract::ConnectInfo;
use http::Extensions;
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
        address.map_or(Self::Unidentified, |address| Self::Address(address.ip()))
    }

    /// Whether the service limit applies rather than the one for people.
    pub fn is_service(&self) -> bool {
        matches!(self, Self::Service(_))
    }
}

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
