//! Opaque page tokens.
//!
//! A token is a keyset cursor: the score and id of the last hit served, so the next page
//! starts strictly after it in the (score descending, id ascending) order. That order is
//! total and a search is deterministic, so while the index does not change, paging neither
//! repeats nor skips a hit. The token also carries a fingerprint of the request it belongs to,
//! so reusing it with another query or other filters is refused rather than silently wrong.

use std::cmp::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::request::SearchRequest;

const FORMAT_VERSION: u8 = 1;
const ENCODED_BYTES: usize = 1 + 8 + 4 + 16;
/// Anything longer cannot be one of ours; checked before decoding to keep garbage cheap.
const MAX_TOKEN_CHARS: usize = 64;

/// A position in the ranking: hits are ordered by score descending, then id ascending.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RankPosition {
    pub score: f32,
    pub id: u128,
}

impl RankPosition {
    /// Compares by rank: `Less` means `self` comes first.
    pub fn rank_cmp(&self, other: &RankPosition) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PageToken {
    pub request_fingerprint: u64,
    /// The last hit already served.
    pub after: RankPosition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PageTokenError {
    #[error("page_token is not valid; request the first page again without it")]
    Malformed,
    #[error(
        "page_token belongs to a different query or filters; request the first page again without it"
    )]
    OtherRequest,
}

impl PageToken {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(ENCODED_BYTES);
        bytes.push(FORMAT_VERSION);
        bytes.extend_from_slice(&self.request_fingerprint.to_be_bytes());
        bytes.extend_from_slice(&self.after.score.to_bits().to_be_bytes());
        bytes.extend_from_slice(&self.after.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token and checks that it was issued for a request with `request_fingerprint`.
    pub fn decode(token: &str, request_fingerprint: u64) -> Result<PageToken, PageTokenError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(PageTokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| PageTokenError::Malformed)?;
        if bytes.len() != ENCODED_BYTES || bytes[0] != FORMAT_VERSION {
            return Err(PageTokenError::Malformed);
        }
        let score = f32::from_bits(u32::from_be_bytes(read_array(&bytes, 9)));
        if !score.is_finite() {
            return Err(PageTokenError::Malformed);
        }
        let token = PageToken {
            request_fingerprint: u64::from_be_bytes(read_array(&bytes, 1)),
            after: RankPosition {
                score,
                id: u128::from_be_bytes(read_array(&bytes, 13)),
            },
        };
        if token.request_fingerprint != request_fingerprint {
            return Err(PageTokenError::OtherRequest);
        }
        Ok(token)
    }
}

/// `N` bytes of `bytes` from `at`; the caller has checked the length.
fn read_array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(&bytes[at..at + N]);
    array
}

/// A stable 64-bit fingerprint (FNV-1a) of everything that decides which hits a request has.
///
/// The page size and the token itself are left out: pages of different sizes still walk the
/// same ranking.
pub(crate) fn request_fingerprint(request: &SearchRequest) -> u64 {
    let mut hasher = Fnv1a::default();
    hasher.write_str(&request.query);
    let mut statuses: Vec<&str> = request.statuses.iter().map(String::as_str).collect();
    statuses.sort_unstable();
    statuses.dedup();
    hasher.write_u64(statuses.len() as u64);
    for status in statuses {
        hasher.write_str(status);
    }
    for bound in [request.applied_from, request.applied_before] {
        match bound {
            Some(instant) => {
                hasher.write_u64(1);
                hasher.write_u64(instant.timestamp_micros() as u64);
            }
            None => hasher.write_u64(0),
        }
    }
    match &request.applicant {
        Some(applicant) => {
            hasher.write_u64(1);
            hasher.write_str(applicant);
        }
        None => hasher.write_u64(0),
    }
    hasher.0
}

struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.write_bytes(&value.to_be_bytes());
    }

    /// Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
    fn write_str(&mut self, value: &str) {
        self.write_u64(value.len() as u64);
        self.write_bytes(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> PageToken {
        PageToken {
            request_fingerprint: 42,
            after: RankPosition {
                score: 3.25,
                id: 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            },
        }
    }

    #[test]
    fn round_trips() {
        let encoded = token().encode();
        assert!(
            encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(PageToken::decode(&encoded, 42), Ok(token()));
    }

    #[test]
    fn refuses_a_token_of_another_request() {
        assert_eq!(
            PageToken::decode(&token().encode(), 43),
            Err(PageTokenError::OtherRequest)
        );
    }

    #[test]
    fn refuses_garbage() {
        let valid = token().encode();
        let truncated = &valid[..valid.len() - 2];
        let long = "A".repeat(10_000);
        for garbage in ["", "!!!", "abc", truncated, "ZZZZ", long.as_str(), "😀"] {
            assert_eq!(
                PageToken::decode(garbage, 42),
                Err(PageTokenError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn ranks_by_score_then_id() {
        let high = RankPosition { score: 2.0, id: 9 };
        let low_small_id = RankPosition { score: 1.0, id: 1 };
        let low_big_id = RankPosition { score: 1.0, id: 2 };
        assert_eq!(high.rank_cmp(&low_small_id), Ordering::Less);
        assert_eq!(low_small_id.rank_cmp(&low_big_id), Ordering::Less);
        assert_eq!(low_big_id.rank_cmp(&high), Ordering::Greater);
    }

    #[test]
    fn fingerprint_depends_on_query_and_filters_only() {
        let request = SearchRequest {
            query: "ложки".into(),
            statuses: vec!["NEW".into(), "COMPLETED".into()],
            page_size: 10,
            ..SearchRequest::default()
        };
        let reordered = SearchRequest {
            statuses: vec!["COMPLETED".into(), "NEW".into()],
            page_size: 50,
            page_token: Some("x".into()),
            ..request.clone()
        };
        assert_eq!(
            request_fingerprint(&request),
            request_fingerprint(&reordered)
        );
        let other_query = SearchRequest {
            query: "вилки".into(),
            ..request.clone()
        };
        let other_owner = SearchRequest {
            applicant: Some("ivanov".into()),
            ..request.clone()
        };
        assert_ne!(
            request_fingerprint(&request),
            request_fingerprint(&other_query)
        );
        assert_ne!(
            request_fingerprint(&request),
            request_fingerprint(&other_owner)
        );
    }
}
