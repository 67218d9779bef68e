//! Compiles every `.proto` under this crate with protox (pure Rust), so no system `protoc` is needed.

use std::{env, path::PathBuf};

use prost::Message;

const PROTO_FILES: &[&str] = &[
    "applications/v1/applications.proto",
    "applications/v1/export.proto",
    "process/v1/process.proto",
];

/// googleapis' error model (vendored under `google/rpc/`), compiled into the descriptor set only:
/// reflection then lets tools such as grpcurl decode the `google.rpc.BadRequest` details of an
/// error. The Rust types come from tonic-types.
const DESCRIPTOR_ONLY_FILES: &[&str] =
    &["google/rpc/status.proto", "google/rpc/error_details.proto"];
const DESCRIPTOR_ONLY_PACKAGE: &str = "google.rpc";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let every_file: Vec<&str> = PROTO_FILES
        .iter()
        .chain(DESCRIPTOR_ONLY_FILES)
        .copied()
        .collect();
    for file in &every_file {
        println!("cargo:rerun-if-changed={file}");
    }
    let file_descriptors = protox::compile(&every_file, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("zayavki_descriptor.bin"),
        file_descriptors.encode_to_vec(),
    )?;
    let mut generated = file_descriptors;
    generated
        .file
        .retain(|file| file.package() != DESCRIPTOR_ONLY_PACKAGE);
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(generated)?;
    Ok(())
}
