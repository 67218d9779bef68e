//! Where a page of a listing ends, and which listings its page token belongs to. The token
//! format itself is `zayavki_common::page_token`, shared with search.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use zayavki_common::page_token::{Cursor, FilterFingerprint, FingerprintBuilder};

use super::list_filter::ListFilter;

/// The last row of a page in the listing order (`applied_at` descending, then `id` descending).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageCursor {
    pub applied_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor for PageCursor {
    const ENCODED_LEN: usize = 8 + 16;

    fn encode_into(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.applied_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
    }

    fn decode_from(bytes: &[u8]) -> Option<Self> {
        let (micros, id) = bytes.split_first_chunk::<8>()?;
        Some(PageCursor {
            applied_at: DateTime::from_timestamp_micros(i64::from_be_bytes(*micros))?,
            id: Uuid::from_slice(id).ok()?,
        })
    }
}

/// Everything that decides which rows a listing contains: whose applications the caller sees
/// (`None`: everyone's), the filing window and the statuses.
pub fn listing_fingerprint(
    visible_applicant: Option<&str>,
    filter: &ListFilter,
) -> FilterFingerprint {
    FingerprintBuilder::new()
        .optional_text(visible_applicant)
        .optional_number(filter.applied.from.map(|at| at.timestamp_micros()))
        .optional_number(filter.applied.before.map(|at| at.timestamp_micros()))
        .text_set(filter.statuses.iter().map(|status| status.as_str()))
        .finish()
}

#[cfg(test)]
mod tests {
    use zayavki_common::page_token::{self, PageTokenError};

    use super::*;
    use crate::domain::{ApplicationStatus, AppliedRange};

    #[test]
    fn round_trips_and_is_bound_to_the_filters() {
        let cursor = PageCursor {
            applied_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid"),
            id: Uuid::now_v7(),
        };
        let fingerprint_for = |applicant, status| {
            let filter = ListFilter {
                applied: AppliedRange::default(),
                statuses: vec![status],
            };
            listing_fingerprint(applicant, &filter)
        };
        let new = fingerprint_for(Some("alice"), ApplicationStatus::New);
        let token = page_token::encode(&cursor, new);
        assert_eq!(page_token::decode(&token, new), Ok(cursor));
        for other in [
            fingerprint_for(Some("alice"), ApplicationStatus::Processing),
            fingerprint_for(Some("bob"), ApplicationStatus::New),
            fingerprint_for(None, ApplicationStatus::New),
        ] {
            assert_eq!(
                page_token::decode::<PageCursor>(&token, other),
                Err(PageTokenError::OtherFilters)
            );
        }
    }
}
