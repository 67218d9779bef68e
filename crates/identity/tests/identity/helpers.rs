use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use zayavki_identity::{IdentityConfig, Role, TokenMinter, TokenVerifier};

/// Long enough for production's 32-byte minimum.
pub const SECRET: &str = "a-shared-secret-for-tests-only-0123456789";

pub const RSA_KID: &str = "rsa-signing-key";
pub const EC_KID: &str = "ec-signing-key";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture exists")
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub fn hs256_config() -> IdentityConfig {
    IdentityConfig::default().with_secret(SECRET)
}

pub fn rsa_config() -> IdentityConfig {
    IdentityConfig::default()
        .with_public_key_file(fixture("rsa-public.pem"))
        .with_private_key_file(fixture("rsa-private.pem"))
}

pub fn ec_config() -> IdentityConfig {
    IdentityConfig::default()
        .with_public_key_file(fixture("ec-public.pem"))
        .with_private_key_file(fixture("ec-private.pem"))
}

pub fn verifier(config: &IdentityConfig) -> TokenVerifier {
    TokenVerifier::new(config).expect("verifier builds")
}

pub fn minter(config: &IdentityConfig) -> TokenMinter {
    TokenMinter::new(config).expect("minter builds")
}

/// A valid HS256 token for [`hs256_config`].
pub fn hs256_token(subject: &str, roles: &[Role]) -> String {
    minter(&hs256_config())
        .mint(subject, None, roles, Duration::from_secs(300))
        .expect("token")
}

pub enum Signer {
    Secret(&'static str),
    RsaPem(&'static str),
    EcPem(&'static str),
}

/// Signs arbitrary claims, for tokens the minter would never produce.
pub fn sign(signer: Signer, kid: Option<&str>, claims: &impl Serialize) -> String {
    let (algorithm, key) = match signer {
        Signer::Secret(secret) => (
            Algorithm::HS256,
            EncodingKey::from_secret(secret.as_bytes()),
        ),
        Signer::RsaPem(name) => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&read_fixture(name)).expect("rsa key"),
        ),
        Signer::EcPem(name) => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&read_fixture(name)).expect("ec key"),
        ),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}

/// Claims that pass every check unless a test changes them.
pub fn valid_claims(subject: &str) -> serde_json::Value {
    serde_json::json!({ "sub": subject, "exp": now() + 300, "iat": now() })
}

/// A token with the given header and claims and an empty signature.
pub fn unsigned(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
