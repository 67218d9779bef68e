//! Server reflection in both protocol versions: grpcurl 1.8 asks for v1alpha, newer tools for v1.
//!
//! `zayavki_proto::FILE_DESCRIPTOR_SET` carries googleapis' `google.rpc` error model too, so tools
//! decode the `google.rpc.BadRequest` details of a refused call instead of reporting an unknown
//! type.

use zayavki_proto::FILE_DESCRIPTOR_SET;

pub fn services() -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
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
