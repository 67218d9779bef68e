//! The gRPC methods a server answers, read from the descriptor sets of its services, so that a
//! request's path becomes a metric label only when it names one of them.

use std::{collections::HashSet, sync::Arc};

use anyhow::Context;
use metrics::SharedString;
use prost::Message;
use prost_types::FileDescriptorSet;

/// The label of every path that names no known method: a caller inventing paths must not add
/// a series per path.
pub(super) const UNKNOWN_METHOD: &str = "unknown";

/// Full method paths (`/package.Service/Method`) a server serves.
#[derive(Clone, Debug, Default)]
pub struct GrpcMethods {
    paths: Arc<HashSet<Arc<str>>>,
}

impl GrpcMethods {
    /// Every method of every service in the given encoded `FileDescriptorSet`s (those a
    /// server registers for reflection, for instance).
    pub fn from_descriptor_sets(encoded_sets: &[&[u8]]) -> anyhow::Result<Self> {
        let mut paths = HashSet::new();
        for encoded in encoded_sets {
            let set = FileDescriptorSet::decode(*encoded)
                .context("cannot read a gRPC file descriptor set")?;
            for file in &set.file {
                let package = file.package();
                for service in &file.service {
                    let service_name = match package {
                        "" => service.name().to_owned(),
                        package => format!("{package}.{}", service.name()),
                    };
                    for method in &service.method {
                        paths.insert(Arc::from(format!("/{service_name}/{}", method.name())));
                    }
                }
            }
        }
        Ok(Self {
            paths: Arc::new(paths),
        })
    }

    /// The `method` label of a request to `path`.
    pub(super) fn label(&self, path: &str) -> SharedString {
        match self.paths.get(path) {
            Some(known) => SharedString::from(Arc::clone(known)),
            None => SharedString::const_str(UNKNOWN_METHOD),
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_types::{
        FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto,
    };

    use super::*;

    fn encoded_set(package: &str, service: &str, methods: &[&str]) -> Vec<u8> {
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                package: Some(package.to_owned()),
                service: vec![ServiceDescriptorProto {
                    name: Some(service.to_owned()),
                    method: methods
                        .iter()
                        .map(|name| MethodDescriptorProto {
                            name: Some((*name).to_owned()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn known_paths_are_their_own_label_and_every_other_path_shares_one() {
        let shop = encoded_set("shop.v1", "Orders", &["GetOrder", "ListOrders"]);
        let bare = encoded_set("", "Ping", &["Echo"]);
        let methods =
            GrpcMethods::from_descriptor_sets(&[&shop, &bare]).expect("descriptor sets decode");

        assert_eq!(
            &*methods.label("/shop.v1.Orders/GetOrder"),
            "/shop.v1.Orders/GetOrder"
        );
        assert_eq!(
            &*methods.label("/shop.v1.Orders/ListOrders"),
            "/shop.v1.Orders/ListOrders"
        );
        assert_eq!(&*methods.label("/Ping/Echo"), "/Ping/Echo");
        assert_eq!(
            &*methods.label("/shop.v1.Orders/DeleteOrder"),
            UNKNOWN_METHOD
        );
        assert_eq!(
            &*methods.label("/shop.v1.Orders/GetOrder/extra"),
            UNKNOWN_METHOD
        );
        assert_eq!(&*methods.label("/"), UNKNOWN_METHOD);
    }

    #[test]
    fn bytes_that_are_no_descriptor_set_are_refused() {
        assert!(GrpcMethods::from_descriptor_sets(&[b"\xff\xff\xff"]).is_err());
    }
}
