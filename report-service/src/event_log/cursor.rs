//! Positions in the log, and the opaque ids clients see for them.
//!
//! A position is (writing transaction, row id): the order the log is followed in (see
//! [`super::read`]). Clients get it as URL-safe base64 of `version (1) | xid (8) | id (8)`, an
//! id they hand back as `lastEventId` and must not read anything into.

use std::{fmt, str::FromStr};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

const FORMAT_VERSION: u8 = 1;
const ENCODED_BYTES: usize = 17;

/// A position in the log: every row sorts by its transaction id first, then by its row id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The writing transaction's `xid8`.
    pub transaction: i64,
    pub id: i64,
}

impl Cursor {
    /// Before every row.
    pub const START: Cursor = Cursor {
        transaction: 0,
        id: 0,
    };

    /// The opaque id clients see.
    pub fn encode(&self) -> String {
        let mut bytes = [0_u8; ENCODED_BYTES];
        bytes[0] = FORMAT_VERSION;
        bytes[1..9].copy_from_slice(&self.transaction.to_be_bytes());
        bytes[9..].copy_from_slice(&self.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.encode())
    }
}

/// An id this service did not hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("is not an event id issued by this service")]
pub struct MalformedCursor;

impl FromStr for Cursor {
    type Err = MalformedCursor;

    fn from_str(encoded: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .map_err(|_| MalformedCursor)?;
        let bytes: [u8; ENCODED_BYTES] = bytes.try_into().map_err(|_| MalformedCursor)?;
        if bytes[0] != FORMAT_VERSION {
            return Err(MalformedCursor);
        }
        let mut transaction = [0_u8; 8];
        transaction.copy_from_slice(&bytes[1..9]);
        let mut id = [0_u8; 8];
        id.copy_from_slice(&bytes[9..]);
        let cursor = Cursor {
            transaction: i64::from_be_bytes(transaction),
            id: i64::from_be_bytes(id),
        };
        if cursor.transaction <= 0 || cursor.id <= 0 {
            return Err(MalformedCursor);
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_back_as_the_same_position() {
        let cursor = Cursor {
            transaction: 4_294_967_301,
            id: 77,
        };

        let encoded = cursor.encode();

        assert_eq!(encoded.parse(), Ok(cursor));
        assert!(
            encoded
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "-_".contains(character)),
            "{encoded} is URL-safe"
        );
    }

    #[test]
    fn ids_not_handed_out_are_refused() {
        let valid = Cursor {
            transaction: 10,
            id: 3,
        }
        .encode();
        let mut other_version = URL_SAFE_NO_PAD.decode(&valid).expect("base64");
        other_version[0] = 2;
        for wrong in [
            String::new(),
            "not base64!".to_owned(),
            valid[..valid.len() - 2].to_owned(),
            format!("{valid}AA"),
            URL_SAFE_NO_PAD.encode(other_version),
            Cursor::START.encode(),
            "12345".to_owned(),
        ] {
            assert_eq!(wrong.parse::<Cursor>(), Err(MalformedCursor), "{wrong:?}");
        }
    }

    #[test]
    fn positions_sort_by_transaction_then_row() {
        let early_transaction_late_row = Cursor {
            transaction: 5,
            id: 900,
        };
        let late_transaction_early_row = Cursor {
            transaction: 6,
            id: 1,
        };

        assert!(early_transaction_late_row < late_transaction_early_row);
        assert!(Cursor::START < early_transaction_late_row);
    }
}
