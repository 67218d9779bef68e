//! Loading the keys named by [`IdentityConfig`]: verification keys (shared secret, PEM public key,
//! JWKS) and the one signing key. Every key is checked when it is loaded, so a wrong file fails
//! at startup with its variable name instead of failing every request later.

use std::{collections::HashMap, fs, path::Path};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey, Validation};
use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey},
    traits::PublicKeyParts,
};
use secrecy::ExposeSecret;

use crate::{
    AuthError,
    auth_error::sanitize,
    config::{IdentityConfig, MIN_SECRET_BYTES, missing_key_message},
    jwks,
};

/// Shorter RSA moduli are factorable in practice.
const MIN_RSA_BITS: usize = 2048;

/// A key that verifies one algorithm, with the claim checks that go with it.
pub(crate) struct VerificationKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
    pub(crate) validation: Validation,
}

/// Every configured verification key, and the algorithms they allow.
pub(crate) struct KeyRing {
    /// From `JWT_SECRET` and `JWT_PUBLIC_KEY_FILE`: at most one key per algorithm.
    direct: Vec<VerificationKey>,
    /// From `JWT_JWKS_FILE`, by `kid`.
    by_kid: HashMap<String, VerificationKey>,
    /// From `JWT_JWKS_FILE`, entries without a `kid`.
    unnamed: Vec<VerificationKey>,
    accepted: Vec<Algorithm>,
}

impl KeyRing {
    pub(crate) fn load(config: &IdentityConfig) -> anyhow::Result<Self> {
        let mut direct = Vec::new();
        if let Some(secret) = &config.secret {
            let secret = checked_secret(secret.expose_secret(), config.production)?;
            direct.push(verification_key(
                Algorithm::HS256,
                DecodingKey::from_secret(secret),
                config,
            ));
        }
        if let Some(path) = &config.public_key_file {
            let pem = read_key_file("JWT_PUBLIC_KEY_FILE", path)?;
            let (algorithm, key) = public_key_from_pem(&pem)
                .with_context(|| format!("JWT_PUBLIC_KEY_FILE={} is not usable", path.display()))?;
            direct.push(verification_key(algorithm, key, config));
        }
        let (by_kid, unnamed) = match &config.jwks_file {
            Some(path) => jwks::load(path, config)
                .with_context(|| format!("JWT_JWKS_FILE={} is not usable", path.display()))?,
            None => (HashMap::new(), Vec::new()),
        };

        let mut accepted: Vec<Algorithm> = Vec::new();
        for key in direct.iter().chain(by_kid.values()).chain(&unnamed) {
            if !accepted.contains(&key.algorithm) {
                accepted.push(key.algorithm);
            }
        }
        accepted.sort_by_key(|algorithm| format!("{algorithm:?}"));

        if accepted.is_empty() {
            if config.production {
                bail!(missing_key_message(true));
            }
            tracing::warn!(
                "{}; every token will be refused",
                missing_key_message(false)
            );
        } else {
            tracing::info!(
                algorithms = %algorithm_list(&accepted),
                jwks_keys = by_kid.len() + unnamed.len(),
                "token verification keys loaded"
            );
        }
        Ok(Self {
            direct,
            by_kid,
            unnamed,
            accepted,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.accepted.is_empty()
    }

    pub(crate) fn accepted_algorithms(&self) -> &[Algorithm] {
        &self.accepted
    }

    /// The header's `alg`, if it is one the configured keys verify. `none` and every algorithm
    /// without a configured key (the HS256-with-a-public-key confusion) stop here.
    pub(crate) fn accept(&self, alg: &str) -> Result<Algorithm, AuthError> {
        alg.parse::<Algorithm>()
            .ok()
            .filter(|algorithm| self.accepted.contains(algorithm))
            .ok_or_else(|| AuthError::AlgorithmNotAllowed {
                algorithm: sanitize(alg),
                accepted: algorithm_list(&self.accepted),
            })
    }

    /// The key for a token: by `kid` from the JWKS when it names one there, otherwise the
    /// directly configured key for its algorithm, otherwise the only JWKS key of that algorithm.
    pub(crate) fn select(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<&VerificationKey, AuthError> {
        if let Some(key) = kid.and_then(|kid| self.by_kid.get(kid)) {
            if key.algorithm != algorithm {
                return Err(AuthError::AlgorithmNotAllowed {
                    algorithm: format!("{algorithm:?}"),
                    accepted: format!("{:?} for this key id", key.algorithm),
                });
            }
            return Ok(key);
        }
        if let Some(key) = self.direct.iter().find(|key| key.algorithm == algorithm) {
            return Ok(key);
        }
        if kid.is_some() {
            return Err(AuthError::UnknownKey {
                kid: kid.map(sanitize),
            });
        }
        let mut candidates = self
            .by_kid
            .values()
            .chain(&self.unnamed)
            .filter(|key| key.algorithm == algorithm);
        match (candidates.next(), candidates.next()) {
            (Some(only), None) => Ok(only),
            _ => Err(AuthError::UnknownKey { kid: None }),
        }
    }
}

pub(crate) fn algorithm_list(algorithms: &[Algorithm]) -> String {
    if algorithms.is_empty() {
        return "none configured".to_owned();
    }
    algorithms
        .iter()
        .map(|algorithm| format!("{algorithm:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn verification_key(
    algorithm: Algorithm,
    key: DecodingKey,
    config: &IdentityConfig,
) -> VerificationKey {
    let mut validation = Validation::new(algorithm);
    validation.leeway = config.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = vec!["exp"];
    if let Some(issuer) = &config.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    if config.audience.is_empty() {
        // Without a configured audience, jsonwebtoken would refuse every token that names one.
        validation.validate_aud = false;
    } else {
        validation.set_audience(&config.audience);
        required.push("aud");
    }
    validation.set_required_spec_claims(&required);
    VerificationKey {
        algorithm,
        key,
        validation,
    }
}

/// The signing half: what [`crate::TokenMinter`] signs with.
pub(crate) struct SigningKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: EncodingKey,
}

impl SigningKey {
    /// `JWT_PRIVATE_KEY_FILE` when set, otherwise the `JWT_SECRET`.
    pub(crate) fn load(config: &IdentityConfig) -> anyhow::Result<Self> {
        if let Some(path) = &config.private_key_file {
            let pem = read_key_file("JWT_PRIVATE_KEY_FILE", path)?;
            let (algorithm, key) = private_key_from_pem(&pem).with_context(|| {
                format!("JWT_PRIVATE_KEY_FILE={} is not usable", path.display())
            })?;
            return Ok(Self { algorithm, key });
        }
        if let Some(secret) = &config.secret {
            let secret = checked_secret(secret.expose_secret(), config.production)?;
            return Ok(Self {
                algorithm: Algorithm::HS256,
                key: EncodingKey::from_secret(secret),
            });
        }
        bail!(
            "no signing key is configured: set JWT_PRIVATE_KEY_FILE (RS256/ES256 PEM) or JWT_SECRET (HS256)"
        )
    }
}

fn checked_secret(secret: &str, production: bool) -> anyhow::Result<&[u8]> {
    let bytes = secret.as_bytes();
    if bytes.len() < MIN_SECRET_BYTES {
        if production {
            bail!(
                "JWT_SECRET is {} bytes long; HS256 needs at least {MIN_SECRET_BYTES}",
                bytes.len()
            );
        }
        tracing::warn!(
            length = bytes.len(),
            "JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes, which production refuses"
        );
    }
    Ok(bytes)
}

pub(crate) fn read_key_file(variable: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {variable}={}", path.display()))
}

/// An RSA public key becomes RS256, an EC P-256 public key ES256.
pub(crate) fn public_key_from_pem(pem: &[u8]) -> anyhow::Result<(Algorithm, DecodingKey)> {
    if contains(pem, "PRIVATE KEY") {
        bail!("it holds a private key; give the public half (`openssl pkey -in key.pem -pubout`)");
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        let DecodingKeyKind::SecretOrDer(der) = key.kind() else {
            bail!("the RSA key could not be read");
        };
        let public = RsaPublicKey::from_pkcs1_der(der).context("the RSA public key is invalid")?;
        check_rsa_size(public.size())?;
        return Ok((Algorithm::RS256, key));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        check_p256_public(&key)?;
        return Ok((Algorithm::ES256, key));
    }
    bail!("it is neither an RSA nor an EC P-256 public key in PEM format")
}

/// An RSA private key signs RS256, an EC P-256 private key (PKCS#8) ES256.
pub(crate) fn private_key_from_pem(pem: &[u8]) -> anyhow::Result<(Algorithm, EncodingKey)> {
    if contains(pem, "ENCRYPTED PRIVATE KEY") {
        bail!("the private key is encrypted; give an unencrypted PKCS#8 key");
    }
    if contains(pem, "EC PRIVATE KEY") {
        bail!(
            "EC keys must be PKCS#8; convert with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`"
        );
    }
    if !contains(pem, "PRIVATE KEY") {
        bail!("it does not hold a private key in PEM format");
    }
    if let Ok(key) = EncodingKey::from_rsa_pem(pem) {
        let private =
            RsaPrivateKey::from_pkcs1_der(key.inner()).context("the RSA private key is invalid")?;
        check_rsa_size(private.size())?;
        return Ok((Algorithm::RS256, key));
    }
    if let Ok(key) = EncodingKey::from_ec_pem(pem) {
        jsonwebtoken::crypto::sign(b"probe", &key, Algorithm::ES256)
            .map_err(|_| anyhow::anyhow!("the EC private key is not on curve P-256 (ES256)"))?;
        return Ok((Algorithm::ES256, key));
    }
    bail!("it is neither an RSA nor an EC P-256 private key in PEM format")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

pub(crate) fn check_rsa_size(modulus_bytes: usize) -> anyhow::Result<()> {
    let bits = modulus_bytes * 8;
    if bits < MIN_RSA_BITS {
        bail!("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required");
    }
    Ok(())
}

/// Building an ES256 verifier fails for any point that is not on P-256.
pub(crate) fn check_p256_public(key: &DecodingKey) -> anyhow::Result<()> {
    jsonwebtoken::crypto::verify("AA", b"probe", key, Algorithm::ES256)
        .map(|_| ())
        .map_err(|_| anyhow::anyhow!("the EC public key is not on curve P-256 (ES256)"))
}
