//! How the token keys are configured: from the environment in a deployment, or a throwaway
//! secret for one development run.

use std::{path::PathBuf, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zayavki_common::config::{Variables, env_list, env_optional, env_or, env_parse};

pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

/// HS256 needs a key at least as long as its hash (RFC 7518 section 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// Which keys verify and sign tokens, and which claims must match.
///
/// Verification accepts exactly the algorithms of the configured keys: `JWT_SECRET` enables
/// HS256, `JWT_PUBLIC_KEY_FILE` RS256 or ES256 (detected from the key), and `JWT_JWKS_FILE` RS256
/// and/or ES256 chosen by each token's `kid`. Several may be configured at once.
#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// `JWT_SECRET`: the HS256 shared secret; its UTF-8 bytes are the key.
    pub secret: Option<SecretString>,
    /// `JWT_PUBLIC_KEY_FILE`: a PEM RSA or EC P-256 public key.
    pub public_key_file: Option<PathBuf>,
    /// `JWT_JWKS_FILE`: a JWKS document holding RSA and/or EC P-256 public keys.
    pub jwks_file: Option<PathBuf>,
    /// `JWT_PRIVATE_KEY_FILE`: a PKCS#8 PEM RSA or EC P-256 private key, used only for minting.
    pub private_key_file: Option<PathBuf>,
    /// `JWT_KEY_ID`: the `kid` written into minted tokens, so a JWKS verifier can find the key.
    pub key_id: Option<String>,
    /// `JWT_ISSUER`: when set, tokens must carry exactly this `iss`; minted tokens get it.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE` (comma-separated): when set, a token's `aud` must name one of these;
    /// minted tokens get them.
    pub audience: Vec<String>,
    /// `JWT_LEEWAY_SECONDS`: clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// `ZAYAVKI_ENV=production`: refuse to run without a verification key or with a short secret.
    pub production: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            secret: None,
            public_key_file: None,
            jwks_file: None,
            private_key_file: None,
            key_id: None,
            issuer: None,
            audience: Vec::new(),
            leeway: Duration::from_secs(DEFAULT_LEEWAY_SECONDS),
            production: false,
        }
    }
}

impl IdentityConfig {
    /// What [`IdentityConfig::from_env`] reads.
    pub const VARIABLES: &[&str] = &[
        "JWT_SECRET",
        "JWT_PUBLIC_KEY_FILE",
        "JWT_JWKS_FILE",
        "JWT_PRIVATE_KEY_FILE",
        "JWT_KEY_ID",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_LEEWAY_SECONDS",
        "ZAYAVKI_ENV",
    ];
    /// A service that verifies tokens needs one of these (or, outside production, a development
    /// key generated for the run, which no other process shares).
    pub const VERIFICATION_KEY: &[&str] = &["JWT_SECRET", "JWT_PUBLIC_KEY_FILE", "JWT_JWKS_FILE"];
    /// A service that mints tokens (a `service` token for its calls) needs one of these.
    pub const SIGNING_KEY: &[&str] = &["JWT_SECRET", "JWT_PRIVATE_KEY_FILE"];

    /// The variables [`IdentityConfig::from_env`] reads, none required on its own: each service
    /// adds [`Self::VERIFICATION_KEY`] or [`Self::SIGNING_KEY`] as it needs.
    pub fn variables() -> Variables {
        Variables::optional(Self::VARIABLES)
    }

    /// Reads `JWT_SECRET`, `JWT_PUBLIC_KEY_FILE`, `JWT_JWKS_FILE`, `JWT_PRIVATE_KEY_FILE`,
    /// `JWT_KEY_ID`, `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_LEEWAY_SECONDS` (default 30) and
    /// `ZAYAVKI_ENV`. Keys are loaded later, by [`crate::TokenVerifier::new`] and
    /// [`crate::TokenMinter::new`].
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            secret: env_optional("JWT_SECRET").map(SecretString::from),
            public_key_file: env_optional("JWT_PUBLIC_KEY_FILE").map(PathBuf::from),
            jwks_file: env_optional("JWT_JWKS_FILE").map(PathBuf::from),
            private_key_file: env_optional("JWT_PRIVATE_KEY_FILE").map(PathBuf::from),
            key_id: env_optional("JWT_KEY_ID").map(|kid| kid.trim().to_owned()),
            issuer: env_optional("JWT_ISSUER").map(|issuer| issuer.trim().to_owned()),
            audience: env_list("JWT_AUDIENCE"),
            leeway: Duration::from_secs(env_parse("JWT_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS)?),
            production: env_or("ZAYAVKI_ENV", "development")
                .trim()
                .eq_ignore_ascii_case("production"),
        })
    }

    /// A configuration with a fresh random HS256 secret, valid for this run only. The returned
    /// key lets a launcher hand the same secret to other processes (as `JWT_SECRET`).
    pub fn development() -> (Self, DevelopmentKey) {
        let mut bytes = [0_u8; MIN_SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        // The encoded form is the secret itself, so it can be copied into JWT_SECRET unchanged.
        let secret = SecretString::from(URL_SAFE_NO_PAD.encode(bytes));
        let config = Self {
            secret: Some(secret.clone()),
            ..Self::default()
        };
        (config, DevelopmentKey { secret })
    }

    /// Fills in a development secret when no verification key is configured, outside
    /// production. Returns the generated key, if any, so the caller can log how to mint tokens.
    pub fn or_development_key(self) -> anyhow::Result<(Self, Option<DevelopmentKey>)> {
        if self.has_verification_key() {
            return Ok((self, None));
        }
        if self.production {
            anyhow::bail!(missing_key_message(true));
        }
        let (development, key) = Self::development();
        tracing::warn!(
            "no token verification key configured, generated a throwaway HS256 secret for this run"
        );
        Ok((
            Self {
                secret: development.secret,
                ..self
            },
            Some(key),
        ))
    }

    pub fn has_verification_key(&self) -> bool {
        self.secret.is_some() || self.public_key_file.is_some() || self.jwks_file.is_some()
    }

    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(SecretString::from(secret.into()));
        self
    }

    pub fn with_public_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.public_key_file = Some(path.into());
        self
    }

    pub fn with_jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.jwks_file = Some(path.into());
        self
    }

    pub fn with_private_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.private_key_file = Some(path.into());
        self
    }

    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    pub fn in_production(mut self, production: bool) -> Self {
        self.production = production;
        self
    }
}

/// A generated HS256 secret. Debug output is redacted.
#[derive(Clone, Debug)]
pub struct DevelopmentKey {
    secret: SecretString,
}

impl DevelopmentKey {
    /// The value to put in `JWT_SECRET` for another process to accept the same tokens.
    pub fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

pub(crate) fn missing_key_message(production: bool) -> String {
    let mut message = "no token verification key is configured: set JWT_SECRET (HS256), \
         JWT_PUBLIC_KEY_FILE (RS256/ES256 PEM) or JWT_JWKS_FILE"
        .to_owned();
    if production {
        message.push_str(" (ZAYAVKI_ENV=production refuses to start without one)");
    }
    message
}

#[cfg(test)]
mod tests {
    use zayavki_common::config::read_recorded;

    use super::*;

    #[test]
    fn from_env_reads_exactly_the_declared_variables() {
        let (config, asked) = read_recorded(
            &[
                ("JWT_SECRET", "a shared secret of at least 32 bytes"),
                ("JWT_AUDIENCE", "zayavki"),
            ],
            IdentityConfig::from_env,
        );

        let config = config.expect("valid settings");
        assert!(config.has_verification_key());
        assert_eq!(config.audience, ["zayavki"]);
        assert_eq!(
            asked,
            IdentityConfig::variables()
                .names()
                .map(str::to_owned)
                .collect()
        );
    }

    #[test]
    fn development_secrets_are_long_random_and_hidden_from_debug_output() {
        let (first, key) = IdentityConfig::development();
        let (second, _) = IdentityConfig::development();

        assert!(key.expose_secret().len() >= MIN_SECRET_BYTES);
        assert_ne!(
            first.secret.as_ref().map(ExposeSecret::expose_secret),
            second.secret.as_ref().map(ExposeSecret::expose_secret)
        );
        assert!(!format!("{first:?}{key:?}").contains(key.expose_secret()));
    }

    #[test]
    fn production_without_a_key_gets_no_development_fallback() {
        let error = IdentityConfig::default()
            .in_production(true)
            .or_development_key()
            .expect_err("production must refuse");

        assert!(
            error.to_string().contains("ZAYAVKI_ENV=production"),
            "{error}"
        );
    }

    #[test]
    fn development_without_a_key_gets_a_generated_secret() {
        let (config, key) = IdentityConfig::default()
            .with_issuer("zayavki")
            .or_development_key()
            .expect("fallback");

        assert!(key.is_some());
        assert!(config.has_verification_key());
        assert_eq!(config.issuer.as_deref(), Some("zayavki"));
    }
}
