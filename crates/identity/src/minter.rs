//! Signing tokens: for the CLI, the development start command and tests.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, Header};

use crate::{
    IdentityConfig, Role,
    claims::{Audience, Claims},
    keys::SigningKey,
};

/// Signs tokens with the configured private key (RS256/ES256) or shared secret (HS256), adding
/// the configured issuer, audience and key id. Cheap to clone.
#[derive(Clone)]
pub struct TokenMinter {
    inner: Arc<Inner>,
}

struct Inner {
    signing: SigningKey,
    key_id: Option<String>,
    issuer: Option<String>,
    audience: Vec<String>,
}

impl std::fmt::Debug for TokenMinter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenMinter")
            .field("algorithm", &self.inner.signing.algorithm)
            .field("key_id", &self.inner.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenMinter {
    /// Uses `JWT_PRIVATE_KEY_FILE` when configured, otherwise `JWT_SECRET`.
    pub fn new(config: &IdentityConfig) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                signing: SigningKey::load(config)?,
                key_id: config.key_id.clone(),
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
            }),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.inner.signing.algorithm
    }

    /// A token for `subject` valid from now for `ttl`.
    pub fn mint(
        &self,
        subject: &str,
        name: Option<&str>,
        roles: &[Role],
        ttl: Duration,
    ) -> anyhow::Result<String> {
        if subject.trim().is_empty() {
            bail!("a token needs a non-empty subject");
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            name: name.map(str::to_owned),
            roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
            exp: now.saturating_add(ttl.as_secs()),
            nbf: None,
            iat: Some(now),
            iss: self.inner.issuer.clone(),
            aud: Audience::from_list(&self.inner.audience),
        };
        self.sign(&claims)
    }

    /// Signs `claims` exactly as given (no issuer or audience added).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(self.inner.signing.algorithm);
        header.kid = self.inner.key_id.clone();
        jsonwebtoken::encode(&header, claims, &self.inner.signing.key)
            .context("cannot sign the token")
    }
}
