//! Generated gRPC code for every zayavki service, and the encoded descriptors that server
//! reflection serves so that `grpcurl` works without proto files.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod applications {
    pub mod v1 {
        tonic::include_proto!("applications.v1");
    }
}

pub mod process {
    pub mod v1 {
        tonic::include_proto!("process.v1");
    }
}

/// Encoded `FileDescriptorSet` of every proto in this crate, including the imported well-known
/// types and googleapis' `google/rpc/status.proto` and `google/rpc/error_details.proto`, so a
/// server that registers it for reflection also describes the details of its errors.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/zayavki_descriptor.bin"));

/// Server reflection in both protocol versions (grpcurl 1.8 asks for v1alpha, newer tools for
/// v1), describing every zayavki proto, the health service and the `google.rpc` error model.
pub mod reflection {
    use super::FILE_DESCRIPTOR_SET;

    pub fn services() -> Result<
        (
            tonic_reflection::server::v1::ServerReflectionServer<
                impl tonic_reflection::server::v1::ServerReflection,
            >,
            tonic_reflection::server::v1alpha::ServerReflectionServer<
                impl tonic_reflection::server::v1alpha::ServerReflection,
            >,
        ),
        tonic_reflection::server::Error,
    > {
        let v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        Ok((v1, v1alpha))
    }
}
