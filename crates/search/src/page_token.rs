//! Where a page of hits ends, and which requests its page token belongs to.
//!
//! A page token (`zayavki_common::page_token`) carries a keyset cursor: the score and id of the
//! last hit served, so the next page starts strictly after it in the (score descending, id
//! ascending) order. That order is total and a search is deterministic, so while the index does
//! not change, paging neither repeats nor skips a hit. The token is bound to a fingerprint of
//! the query and filters, so reusing it with another query or other filters is refused rather
//! than silently wrong.

use std::cmp::Ordering;

use zayavki_common::page_token::{Cursor, FilterFingerprint, FingerprintBuilder};

use crate::request::SearchRequest;

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

impl Cursor for RankPosition {
    const ENCODED_LEN: usize = 4 + 16;

    fn encode_into(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.score.to_bits().to_be_bytes());
        bytes.extend_from_slice(&self.id.to_be_bytes());
    }

    fn decode_from(bytes: &[u8]) -> Option<Self> {
        let (score, id) = bytes.split_first_chunk::<4>()?;
        let score = f32::from_bits(u32::from_be_bytes(*score));
        // No hit ever scores NaN or infinity; such a position would rank oddly.
        score.is_finite().then_some(RankPosition {
            score,
            id: u128::from_be_bytes(id.try_into().ok()?),
        })
    }
}

/// Everything that decides which hits a request has. The page size and the token itself are
/// left out: pages of different sizes still walk the same ranking.
pub(crate) fn request_fingerprint(request: &SearchRequest) -> FilterFingerprint {
    FingerprintBuilder::new()
        .text(&request.query)
        .text_set(request.statuses.iter().map(String::as_str))
        .optional_number(request.applied_from.map(|at| at.timestamp_micros()))
        .optional_number(request.applied_before.map(|at| at.timestamp_micros()))
        .optional_text(request.applicant.as_deref())
        .finish()
}

#[cfg(test)]
mod tests {
    use zayavki_common::page_token::{self, PageTokenError};

    use super::*;

    const POSITION: RankPosition = RankPosition {
        score: 3.25,
        id: 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
    };

    #[test]
    fn positions_round_trip_through_a_token() {
        let fingerprint = request_fingerprint(&SearchRequest::new("ложки"));
        let token = page_token::encode(&POSITION, fingerprint);
        assert_eq!(page_token::decode(&token, fingerprint), Ok(POSITION));
    }

    #[test]
    fn refuses_positions_no_hit_can_have() {
        let fingerprint = request_fingerprint(&SearchRequest::new("ложки"));
        for score in [f32::NAN, f32::INFINITY] {
            let token = page_token::encode(&RankPosition { score, id: 1 }, fingerprint);
            assert_eq!(
                page_token::decode::<RankPosition>(&token, fingerprint),
                Err(PageTokenError::Malformed)
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
