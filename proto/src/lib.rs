//! Generated gRPC code for every zayavki service, and the encoded descriptors that server
//! reflection serves so that `grpcurl` works without proto files.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod applications {
    pub mod v1 {
        tonic::include_proto!("applications.v1");
    }
}

/// Encoded `FileDescriptorSet` of every proto in this crate, including the imported well-known
/// types and googleapis' `google/rpc/status.proto` and `google/rpc/error_details.proto`, so a
/// server that registers it for reflection also describes the details of its errors.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/zayavki_descriptor.bin"));
