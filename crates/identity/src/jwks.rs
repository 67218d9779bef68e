//! Loading a JWKS file: RSA and EC P-256 signature keys, each verifying one algorithm and
//! found by its `kid`.

use std::{collections::HashMap, path::Path};

use anyhow::{Context, bail};
use jsonwebtoken::{
    Algorithm, DecodingKey, DecodingKeyKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk},
};
use rsa::{BigUint, RsaPublicKey, traits::PublicKeyParts};

use crate::{
    IdentityConfig,
    keys::{VerificationKey, check_p256_public, check_rsa_size, read_key_file, verification_key},
};

/// Keys by `kid`, and keys without one.
pub(crate) type JwksKeys = (HashMap<String, VerificationKey>, Vec<VerificationKey>);

pub(crate) fn load(path: &Path, config: &IdentityConfig) -> anyhow::Result<JwksKeys> {
    let text = read_key_file("JWT_JWKS_FILE", path)?;
    let document: serde_json::Value = serde_json::from_slice(&text).context("it is not JSON")?;
    let entries = document
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .context("it has no `keys` array")?;

    let mut by_kid = HashMap::new();
    let mut unnamed = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let kid = entry.get("kid").and_then(serde_json::Value::as_str);
        let label = kid.map_or_else(|| format!("keys[{index}]"), |kid| format!("key {kid:?}"));
        let Some((algorithm, key)) =
            jwks_entry(entry).with_context(|| format!("{label} is not usable"))?
        else {
            continue;
        };
        let key = verification_key(algorithm, key, config);
        match kid {
            Some(kid) => {
                if by_kid.insert(kid.to_owned(), key).is_some() {
                    bail!("key id {kid:?} appears more than once");
                }
            }
            None => unnamed.push(key),
        }
    }
    if by_kid.is_empty() && unnamed.is_empty() {
        bail!("it holds no RSA or EC P-256 signature key");
    }
    Ok((by_kid, unnamed))
}

/// One JWKS entry, or `None` for entries that are not RS256/ES256 signature keys (encryption
/// keys, symmetric keys, other curves), which a shared key set may legitimately contain.
fn jwks_entry(entry: &serde_json::Value) -> anyhow::Result<Option<(Algorithm, DecodingKey)>> {
    let field = |name: &str| entry.get(name).and_then(serde_json::Value::as_str);
    if field("use").is_some_and(|usage| usage != "sig") {
        return Ok(None);
    }
    let expected = match field("kty") {
        Some("RSA") => Algorithm::RS256,
        Some("EC") if field("crv") == Some("P-256") => Algorithm::ES256,
        other => {
            tracing::warn!(kty = ?other, crv = ?field("crv"), "skipping a JWKS key that is neither RSA nor EC P-256");
            return Ok(None);
        }
    };
    if let Some(alg) = field("alg")
        && alg != format!("{expected:?}")
    {
        tracing::warn!(
            alg,
            "skipping a JWKS key whose algorithm is neither RS256 nor ES256"
        );
        return Ok(None);
    }
    let jwk: Jwk = serde_json::from_value(entry.clone()).context("it is not a valid JWK")?;
    let key = DecodingKey::from_jwk(&jwk).context("its key material is not valid base64url")?;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => {
            let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
                bail!("the RSA key could not be read");
            };
            let public = RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e))
                .context("the RSA public key is invalid")?;
            check_rsa_size(public.size())?;
        }
        AlgorithmParameters::EllipticCurve(parameters)
            if parameters.curve == EllipticCurve::P256 =>
        {
            check_p256_public(&key)?;
        }
        _ => bail!("kty does not match its parameters"),
    }
    Ok(Some((expected, key)))
}
