//! Opaque page tokens for keyset pagination, one format for every listing and search.
//!
//! A token carries the position of the last item served (a cursor, whose shape each listing
//! defines through [`Cursor`]) and a fingerprint of the filters that decide which items the
//! listing has, so a token reused with other filters is refused instead of silently continuing
//! another listing. A checksum over the whole token refuses tokens that were cut or altered.
//! Clients see only URL-safe base64; the layout inside is ours to change:
//!
//! `version (1) | filter fingerprint (8) | cursor (Cursor::ENCODED_LEN) | checksum (4)`

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

const FORMAT_VERSION: u8 = 1;
const FINGERPRINT_BYTES: usize = 8;
const CHECKSUM_BYTES: usize = 4;

/// The position a page ends at, as a listing orders its items.
pub trait Cursor: Sized {
    /// How many bytes [`Cursor::encode_into`] always writes.
    const ENCODED_LEN: usize;

    fn encode_into(&self, bytes: &mut Vec<u8>);

    /// Reads back what [`Cursor::encode_into`] wrote; `bytes` is exactly
    /// [`Cursor::ENCODED_LEN`] long. `None` when the bytes describe no valid position.
    fn decode_from(bytes: &[u8]) -> Option<Self>;
}

/// Why a page token was refused. The messages follow the parameter's name
/// ("page_token is not …"), so each protocol can put them after its own spelling of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    #[error("is not a page token issued by this service; request the first page again without it")]
    Malformed,
    #[error(
        "belongs to a different query or other filters; request the first page again without it"
    )]
    OtherFilters,
}

/// What decides which items a listing contains (never the page size: pages of any size walk
/// the same order). Built with [`FingerprintBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterFingerprint(u64);

/// Writes the filters of a listing one by one into a [`FilterFingerprint`]. Every value is
/// length- or presence-prefixed, so different filters never write the same bytes.
#[derive(Clone, Debug, Default)]
pub struct FingerprintBuilder(Fnv1a);

impl FingerprintBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(mut self, value: &str) -> Self {
        self.0.write_text(value);
        self
    }

    pub fn optional_text(mut self, value: Option<&str>) -> Self {
        self.0.write_presence(value.is_some());
        if let Some(value) = value {
            self.0.write_text(value);
        }
        self
    }

    pub fn optional_number(mut self, value: Option<i64>) -> Self {
        self.0.write_presence(value.is_some());
        if let Some(value) = value {
            self.0.write_bytes(&value.to_be_bytes());
        }
        self
    }

    /// A set of values: their order and repetitions do not matter.
    pub fn text_set<'a>(mut self, values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<&str> = values.into_iter().collect();
        values.sort_unstable();
        values.dedup();
        self.0.write_bytes(&(values.len() as u64).to_be_bytes());
        for value in values {
            self.0.write_text(value);
        }
        self
    }

    pub fn finish(self) -> FilterFingerprint {
        FilterFingerprint(self.0.0)
    }
}

/// The token that continues a listing with `fingerprint` after `cursor`.
pub fn encode<C: Cursor>(cursor: &C, fingerprint: FilterFingerprint) -> String {
    let mut bytes = Vec::with_capacity(token_bytes::<C>());
    bytes.push(FORMAT_VERSION);
    bytes.extend_from_slice(&fingerprint.0.to_be_bytes());
    cursor.encode_into(&mut bytes);
    debug_assert_eq!(bytes.len(), token_bytes::<C>() - CHECKSUM_BYTES);
    let checksum = checksum(&bytes);
    bytes.extend_from_slice(&checksum);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The cursor of `token`, provided it was issued by [`encode`] for a listing with
/// `fingerprint`.
pub fn decode<C: Cursor>(token: &str, fingerprint: FilterFingerprint) -> Result<C, PageTokenError> {
    let token = token.trim();
    // Checked before decoding, so that garbage of any size costs nothing.
    if token.len() != base64_chars(token_bytes::<C>()) {
        return Err(PageTokenError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| PageTokenError::Malformed)?;
    if bytes.len() != token_bytes::<C>() || bytes[0] != FORMAT_VERSION {
        return Err(PageTokenError::Malformed);
    }
    let (signed, recorded_checksum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    if checksum(signed) != recorded_checksum {
        return Err(PageTokenError::Malformed);
    }
    let (recorded_fingerprint, cursor) = signed[1..].split_at(FINGERPRINT_BYTES);
    if recorded_fingerprint != fingerprint.0.to_be_bytes() {
        return Err(PageTokenError::OtherFilters);
    }
    C::decode_from(cursor).ok_or(PageTokenError::Malformed)
}

const fn token_bytes<C: Cursor>() -> usize {
    1 + FINGERPRINT_BYTES + C::ENCODED_LEN + CHECKSUM_BYTES
}

/// Characters of unpadded base64 for `bytes` bytes.
const fn base64_chars(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut hasher = Fnv1a::default();
    hasher.write_bytes(bytes);
    let [.., a, b, c, d] = hasher.0.to_be_bytes();
    [a, b, c, d]
}

/// 64-bit FNV-1a: stable across builds and platforms, which a token that outlives a process
/// needs (the standard library's hasher is neither).
#[derive(Clone, Debug)]
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

    fn write_presence(&mut self, present: bool) {
        self.write_bytes(&[u8::from(present)]);
    }

    /// Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
    fn write_text(&mut self, value: &str) {
        self.write_bytes(&(value.len() as u64).to_be_bytes());
        self.write_bytes(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Position(u32);

    impl Cursor for Position {
        const ENCODED_LEN: usize = 4;

        fn encode_into(&self, bytes: &mut Vec<u8>) {
            bytes.extend_from_slice(&self.0.to_be_bytes());
        }

        fn decode_from(bytes: &[u8]) -> Option<Self> {
            let value = u32::from_be_bytes(bytes.try_into().ok()?);
            (value != u32::MAX).then_some(Position(value))
        }
    }

    fn filters(status: &str) -> FilterFingerprint {
        FingerprintBuilder::new()
            .optional_text(Some("alice"))
            .text_set([status])
            .finish()
    }

    #[test]
    fn round_trips_as_url_safe_text() {
        let token = encode(&Position(42), filters("NEW"));
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(decode(&token, filters("NEW")), Ok(Position(42)));
    }

    #[test]
    fn refuses_a_token_of_other_filters() {
        let token = encode(&Position(42), filters("NEW"));
        assert_eq!(
            decode::<Position>(&token, filters("CANCELLED")),
            Err(PageTokenError::OtherFilters)
        );
    }

    #[test]
    fn refuses_altered_cut_and_foreign_tokens() {
        let token = encode(&Position(42), filters("NEW"));
        let mut altered = token.clone().into_bytes();
        // A character inside the cursor: the checksum no longer matches.
        let inside_cursor = 13;
        altered[inside_cursor] = if altered[inside_cursor] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let altered = String::from_utf8(altered).expect("ascii");
        let invalid_cursor = encode(&Position(u32::MAX), filters("NEW"));
        let long = "A".repeat(10_000);
        for garbage in [
            "",
            "!!!",
            "😀",
            &token[..token.len() - 2],
            &format!("{token}AAAA"),
            &altered,
            &invalid_cursor,
            &long,
        ] {
            assert_eq!(
                decode::<Position>(garbage, filters("NEW")),
                Err(PageTokenError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn sets_ignore_order_and_repeats_and_values_do_not_run_together() {
        let fingerprint = |values: &[&str]| {
            FingerprintBuilder::new()
                .text_set(values.iter().copied())
                .finish()
        };
        assert_eq!(
            fingerprint(&["NEW", "DONE"]),
            fingerprint(&["DONE", "NEW", "NEW"])
        );
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_ne!(
            FingerprintBuilder::new().optional_text(None).finish(),
            FingerprintBuilder::new().optional_text(Some("")).finish()
        );
        assert_ne!(
            FingerprintBuilder::new().optional_number(None).finish(),
            FingerprintBuilder::new().optional_number(Some(0)).finish()
        );
    }
}
