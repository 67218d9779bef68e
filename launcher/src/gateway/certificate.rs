//! A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, so the gateway speaks
//! HTTP/2 over TLS on a development machine. Clients trust it with the certificate file the start
//! command prints (`curl --cacert`); real deployments configure `GATEWAY_TLS_CERT`.

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;

/// The file HAProxy reads: the certificate followed by its private key.
pub const BUNDLE_FILE: &str = "gateway-development.pem";
/// The certificate alone, for clients to trust.
pub const CERTIFICATE_FILE: &str = "gateway-development.crt";

/// Generates a fresh key and certificate into `dir`; answers the bundle's path.
pub fn write_development_certificate(dir: &Path) -> anyhow::Result<PathBuf> {
    let names = ["localhost", "127.0.0.1", "::1"]
        .map(str::to_owned)
        .to_vec();
    let generated = rcgen::generate_simple_self_signed(names)
        .context("cannot generate the gateway's development certificate")?;
    let certificate = generated.cert.pem();
    let bundle = format!("{certificate}{}", generated.signing_key.serialize_pem());
    write_private(&dir.join(BUNDLE_FILE), bundle.as_bytes())?;
    std::fs::write(dir.join(CERTIFICATE_FILE), certificate)
        .with_context(|| format!("cannot write {CERTIFICATE_FILE} in {}", dir.display()))?;
    Ok(dir.join(BUNDLE_FILE))
}

/// Written readable by its owner only: it holds a private key.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_bundle_holds_the_certificate_then_its_key_and_only_its_owner_reads_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bundle = write_development_certificate(dir.path()).expect("written");

        let text = std::fs::read_to_string(&bundle).expect("readable");
        let certificate = text
            .find("-----BEGIN CERTIFICATE-----")
            .expect("a certificate");
        let key = text.find("-----BEGIN PRIVATE KEY-----").expect("a key");
        assert!(certificate < key, "{text}");
        let mode = std::fs::metadata(&bundle)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        let alone = std::fs::read_to_string(dir.path().join(CERTIFICATE_FILE)).expect("written");
        assert!(!alone.contains("PRIVATE KEY"));
    }
}
