//! Verifying bearer tokens into an [`Identity`].

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, errors::ErrorKind};
use serde::Deserialize;

use crate::{
    AuthError, Identity, IdentityConfig, claims::VerifiedClaims, keys::KeyRing,
    token_cache::TokenCache,
};

/// How many verified tokens are remembered; a few megabytes at most.
const CACHE_CAPACITY: usize = 4096;

/// Checks a token's signature against the configured keys, then `exp`, `nbf`, and `iss`/`aud`
/// when configured. Only the algorithms of the configured keys are accepted. Cheap to clone.
///
/// Verification is CPU-only (microseconds for HS256, longer for RS256/ES256) and recently
/// verified tokens are remembered until they expire, so it is fine to call from async code.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeyRing,
    leeway_seconds: u64,
    cache: TokenCache,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenVerifier")
            .field("algorithms", &self.inner.keys.accepted_algorithms())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Loads and checks every configured key. In production, no key at all is an error; in
    /// development the verifier is built but refuses every token.
    pub fn new(config: &IdentityConfig) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                keys: KeyRing::load(config)?,
                leeway_seconds: config.leeway.as_secs(),
                cache: TokenCache::new(CACHE_CAPACITY),
            }),
        })
    }

    /// The algorithms a token may be signed with.
    pub fn accepted_algorithms(&self) -> &[Algorithm] {
        self.inner.keys.accepted_algorithms()
    }

    /// Verifies a raw token (without the `Bearer ` prefix).
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let inner = &*self.inner;
        if inner.keys.is_empty() {
            return Err(AuthError::NoKeyConfigured);
        }
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(identity) = inner.cache.get(token, now) {
            return Ok(identity);
        }

        let header = TokenHeader::parse(token)?;
        let algorithm = inner.keys.accept(&header.alg)?;
        let key = inner.keys.select(algorithm, header.kid.as_deref())?;
        let claims = jsonwebtoken::decode::<VerifiedClaims>(token, &key.key, &key.validation)
            .map_err(|error| from_jsonwebtoken(error.into_kind()))?
            .claims;
        let exp = claims.exp;
        let identity = claims.into_identity()?;

        if let Some(exp) = exp.filter(|exp| exp.is_finite() && *exp > 0.0) {
            let valid_until = (exp as u64).saturating_add(inner.leeway_seconds);
            inner
                .cache
                .insert(token, identity.clone(), valid_until, now);
        }
        Ok(identity)
    }
}

/// The JOSE header, read before jsonwebtoken so that `alg: none` and algorithms without a
/// configured key get a precise answer instead of a parse error.
#[derive(Deserialize)]
struct TokenHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl TokenHeader {
    fn parse(token: &str) -> Result<Self, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_claims), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::malformed("a JWT has three dot-separated parts"));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| AuthError::malformed("the header is not base64url"))?;
        let header: Self = serde_json::from_slice(&bytes)
            .map_err(|_| AuthError::malformed("the header is not a JSON object with an `alg`"))?;
        if header.crit.is_some() {
            return Err(AuthError::malformed(
                "critical header extensions (`crit`) are not supported",
            ));
        }
        Ok(header)
    }
}

fn from_jsonwebtoken(kind: ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "iss" => AuthError::WrongIssuer,
            "aud" => AuthError::WrongAudience,
            "sub" => AuthError::MissingSubject,
            _ => AuthError::MissingExpiry,
        },
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthError::malformed(format!("the `{claim}` claim has the wrong type"))
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::AlgorithmNotAllowed {
                algorithm: "unknown".to_owned(),
                accepted: "the algorithm of the selected key".to_owned(),
            }
        }
        ErrorKind::Base64(_) => AuthError::malformed("a part is not base64url"),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            AuthError::malformed("the claims are not a JSON object of the expected shape")
        }
        ErrorKind::InvalidToken => AuthError::malformed("the token structure is invalid"),
        other => {
            // Keys are checked at startup, so this means a key that cannot verify at all.
            tracing::error!(error = ?other, "token verification failed inside the crypto backend");
            AuthError::BadSignature
        }
    }
}
