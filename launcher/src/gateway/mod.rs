//! The API gateway: HAProxy, configured from `gateway/haproxy.cfg.template` with the addresses of
//! every replica, with a development TLS certificate unless one is configured. The start command
//! writes both, has HAProxy check the configuration (`haproxy -c`), then supervises it like the
//! services.

mod certificate;
mod config;
pub mod standalone;

use std::path::{Path, PathBuf};

use anyhow::Context;
pub use certificate::write_development_certificate;
pub use config::{DEFAULT_EDGE_LIMIT, Endpoint, GatewayPlan, Replica, TEMPLATE};

/// Writes the configuration `plan` renders to `path` and has `haproxy` check it.
pub async fn write_checked_config(
    plan: &GatewayPlan,
    haproxy: &Path,
    path: &Path,
) -> anyhow::Result<()> {
    let config = plan.render()?;
    tokio::fs::write(path, config)
        .await
        .with_context(|| format!("cannot write the gateway configuration {}", path.display()))?;
    check_config(haproxy, path).await
}

/// `haproxy -c -f path`: fails with HAProxy's own words when the configuration is invalid.
pub async fn check_config(haproxy: &Path, path: &Path) -> anyhow::Result<()> {
    let output = tokio::process::Command::new(haproxy)
        .args(["-c", "-f"])
        .arg(path)
        .output()
        .await
        .with_context(|| format!("cannot run {}", haproxy.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "HAProxy rejects the gateway configuration {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The gateway's TLS certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCertificate {
    /// What HAProxy reads: the certificate chain and its private key.
    pub bundle: PathBuf,
    /// What clients may trust (`curl --cacert`): the certificate alone, when known.
    pub public: PathBuf,
}

/// `GATEWAY_TLS_CERT` (a PEM file with the certificate chain and its key) when configured;
/// otherwise a development certificate for `localhost` written into `dir`.
pub fn certificate(configured: Option<PathBuf>, dir: &Path) -> anyhow::Result<TlsCertificate> {
    match configured {
        Some(path) => {
            anyhow::ensure!(
                path.is_file(),
                "GATEWAY_TLS_CERT names {}, which is not a file",
                path.display()
            );
            Ok(TlsCertificate {
                bundle: path.clone(),
                public: path,
            })
        }
        None => Ok(TlsCertificate {
            bundle: write_development_certificate(dir)?,
            public: dir.join(certificate::CERTIFICATE_FILE),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(traffic: u16, health: u16) -> Replica {
        Replica::on_loopback(traffic, health)
    }

    /// HAProxy as the test tools install it (`scripts/install-test-tools`).
    fn haproxy() -> PathBuf {
        PathBuf::from(std::env::var("HAPROXY_BIN").unwrap_or_else(|_| "haproxy".to_owned()))
    }

    #[tokio::test]
    async fn haproxy_accepts_the_rendered_configuration() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let plan = GatewayPlan {
            listen: "127.0.0.1:18000".parse().expect("an address"),
            tls: "127.0.0.1:18443".parse().expect("an address"),
            certificate: write_development_certificate(dir.path()).expect("a certificate"),
            stats: "127.0.0.1:18404".parse().expect("an address"),
            edge_limit: Some(DEFAULT_EDGE_LIMIT),
            application_http: vec![replica(8080, 8080), replica(9080, 9080)],
            application_grpc: vec![replica(50051, 8080), replica(51051, 9080)],
            process_grpc: vec![replica(50052, 8081), replica(51052, 9081)],
            reports: vec![replica(8082, 8082), replica(9082, 9082)],
            web: vec![replica(8091, 8091)],
        };
        let path = dir.path().join("haproxy.cfg");

        write_checked_config(&plan, &haproxy(), &path)
            .await
            .expect("haproxy -c accepts it");
        let without_limit = GatewayPlan {
            edge_limit: None,
            process_grpc: Vec::new(),
            ..plan
        };
        write_checked_config(&without_limit, &haproxy(), &path)
            .await
            .expect("haproxy -c accepts it without a limit and without business-process");
    }

    #[tokio::test]
    async fn an_invalid_configuration_is_refused_in_haproxys_words() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(
            &path,
            "frontend broken\n    bind 127.0.0.1:18000\n    use_backend nowhere\n",
        )
        .expect("written");

        let error = check_config(&haproxy(), &path)
            .await
            .expect_err("an unknown backend")
            .to_string();
        assert!(error.contains("nowhere"), "{error}");
    }
}
