//! Signed download URLs: `/reports/{id}/download?exp=<unix seconds>&sig=<hex HMAC-SHA256>`,
//! valid for [`URL_LIFETIME`]. The signature covers the report id and the expiry, so neither
//! can be changed; anyone holding the URL may download until it expires.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// How long a signed URL stays valid.
pub const URL_LIFETIME: TimeDelta = TimeDelta::minutes(15);

/// The key download URLs are signed with. Every replica needs the same one.
#[derive(Clone)]
pub struct DownloadSecret(SecretSlice<u8>);

impl DownloadSecret {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self(SecretSlice::from(key.into()))
    }

    /// A key derived from another secret (the JWT key), so that one fewer secret needs
    /// configuring; URLs signed with it say nothing about the secret it came from.
    pub fn derived_from(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"zayavki report-service download URLs v1");
        Self::new(mac.finalize().into_bytes().to_vec())
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes keys of any length")
    }
}

impl fmt::Debug for DownloadSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("DownloadSecret(..)")
    }
}

/// Why a signed URL was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the download link has expired; ask for the report again to get a fresh one")]
    Expired,
    #[error("the download link's signature does not match")]
    Invalid,
}

/// The relative URL that downloads `report_id` until 15 minutes after `now`.
pub fn download_url(secret: &DownloadSecret, report_id: Uuid, now: DateTime<Utc>) -> String {
    let expires = (now + URL_LIFETIME).timestamp();
    let signature = hex::encode(
        signature(secret, report_id, expires)
            .finalize()
            .into_bytes(),
    );
    format!("/reports/{report_id}/download?exp={expires}&sig={signature}")
}

/// Checks the `exp` and `sig` query values of a download of `report_id` at `now`.
pub fn verify(
    secret: &DownloadSecret,
    report_id: Uuid,
    expires: i64,
    signature_hex: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let given = hex::decode(signature_hex).map_err(|_| SignatureError::Invalid)?;
    signature(secret, report_id, expires)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Invalid)?;
    if now.timestamp() >= expires {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

fn signature(secret: &DownloadSecret, report_id: Uuid, expires: i64) -> HmacSha256 {
    let mut mac = secret.mac();
    mac.update(report_id.as_bytes());
    mac.update(&expires.to_be_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (i64, String) {
        let query = url.split_once('?').expect("a query").1;
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').expect("name=value") {
                ("exp", value) => expires = value.parse().expect("seconds"),
                ("sig", value) => signature = value.to_owned(),
                other => panic!("unexpected {other:?}"),
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_signed_url_is_valid_for_fifteen_minutes() {
        let secret = DownloadSecret::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let report = Uuid::now_v7();
        let now = Utc::now();
        let url = download_url(&secret, report, now);
        assert!(url.starts_with(&format!("/reports/{report}/download?exp=")));
        let (expires, signature) = parts(&url);

        assert_eq!(verify(&secret, report, expires, &signature, now), Ok(()));
        let almost = now + URL_LIFETIME - TimeDelta::seconds(1);
        assert_eq!(verify(&secret, report, expires, &signature, almost), Ok(()));
        let later = now + URL_LIFETIME + TimeDelta::seconds(1);
        assert_eq!(
            verify(&secret, report, expires, &signature, later),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn another_report_expiry_or_key_breaks_the_signature() {
        let secret = DownloadSecret::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let report = Uuid::now_v7();
        let now = Utc::now();
        let (expires, signature) = parts(&download_url(&secret, report, now));

        let other_report = Uuid::now_v7();
        assert_eq!(
            verify(&secret, other_report, expires, &signature, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&secret, report, expires + 3600, &signature, now),
            Err(SignatureError::Invalid)
        );
        let other_key = DownloadSecret::derived_from(b"another secret");
        assert_eq!(
            verify(&other_key, report, expires, &signature, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&secret, report, expires, "not hex", now),
            Err(SignatureError::Invalid)
        );
    }
}
