//! Opaque keyset page tokens: the position of the last row returned (`applied_at`, `id`) and a
//! fingerprint of the filters, so a token cannot be replayed against other filters.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VERSION: u8 = 1;
const LENGTH: usize = 1 + 8 + 16 + 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageCursor {
    pub applied_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A fingerprint of whatever decides which rows a listing contains.
pub fn filter_fingerprint(parts: &[&str]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut fingerprint = [0; 8];
    fingerprint.copy_from_slice(&digest[..8]);
    fingerprint
}

pub fn encode(cursor: PageCursor, fingerprint: [u8; 8]) -> String {
    let mut bytes = Vec::with_capacity(LENGTH);
    bytes.push(VERSION);
    bytes.extend_from_slice(&cursor.applied_at.timestamp_micros().to_be_bytes());
    bytes.extend_from_slice(cursor.id.as_bytes());
    bytes.extend_from_slice(&fingerprint);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(token: &str, fingerprint: [u8; 8]) -> Result<PageCursor, String> {
    const MALFORMED: &str = "is not a page token returned by this service";
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| MALFORMED.to_owned())?;
    if bytes.len() != LENGTH || bytes[0] != VERSION {
        return Err(MALFORMED.to_owned());
    }
    if bytes[25..] != fingerprint {
        return Err(
            "belongs to a listing with other filters; start again without a page token".to_owned(),
        );
    }
    let micros = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| MALFORMED.to_owned())?);
    let applied_at = DateTime::from_timestamp_micros(micros).ok_or_else(|| MALFORMED.to_owned())?;
    let id = Uuid::from_slice(&bytes[9..25]).map_err(|_| MALFORMED.to_owned())?;
    Ok(PageCursor { applied_at, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_filters_and_garbage() {
        let cursor = PageCursor {
            applied_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid"),
            id: Uuid::now_v7(),
        };
        let fingerprint = filter_fingerprint(&["NEW"]);
        let token = encode(cursor, fingerprint);
        assert_eq!(decode(&token, fingerprint), Ok(cursor));
        assert!(decode(&token, filter_fingerprint(&["PROCESSING"])).is_err());
        assert!(decode("garbage!", fingerprint).is_err());
        assert!(decode("", fingerprint).is_err());
    }
}
