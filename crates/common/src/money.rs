//! Exact money: an integer count of minor units (kopecks, cents). No floating point anywhere.

use std::fmt;

/// Largest accepted unit price: 999 999 999 999.99.
const MAX_UNIT_PRICE_MINOR: i64 = 99_999_999_999_999;
/// Largest amount of any kind: 9 999 999 999 999 999.99.
const MAX_AMOUNT_MINOR: i64 = 999_999_999_999_999_999;

/// A non-negative amount with two fraction digits, stored as minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    minor: i64,
}

impl Money {
    pub const ZERO: Money = Money { minor: 0 };

    pub fn from_minor(minor: i64) -> Option<Self> {
        (minor >= 0).then_some(Self { minor })
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    /// Parses a unit price: a decimal string such as `"12.50"`, `"12.5"` or `"12"`, at most
    /// 999 999 999 999.99.
    pub fn parse_unit_price(raw: &str) -> Result<Self, String> {
        Self::parse_decimal(raw, 12, MAX_UNIT_PRICE_MINOR)
    }

    /// Parses any amount in the same format (a total, a budget), up to 10^16 − 0.01.
    pub fn parse_amount(raw: &str) -> Result<Self, String> {
        Self::parse_decimal(raw, 16, MAX_AMOUNT_MINOR)
    }

    fn parse_decimal(raw: &str, max_whole_digits: usize, max_minor: i64) -> Result<Self, String> {
        let too_large = || format!("must not exceed {}", Money { minor: max_minor });
        const FORMAT: &str =
            "must be a decimal string with at most two fraction digits, e.g. \"12.50\"";
        if raw.starts_with('-') {
            return Err("must not be negative".to_owned());
        }
        let (whole, fraction) = match raw.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (raw, ""),
        };
        let digits_only = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (raw.contains('.') && fraction.is_empty())
        {
            return Err(FORMAT.to_owned());
        }
        if fraction.len() > 2 {
            return Err("must have at most two fraction digits".to_owned());
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > max_whole_digits {
            return Err(too_large());
        }
        let whole_value: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| FORMAT.to_owned())?
        };
        let fraction_value: i64 = match fraction.len() {
            0 => 0,
            1 => i64::from(fraction.as_bytes()[0] - b'0') * 10,
            _ => fraction.parse().map_err(|_| FORMAT.to_owned())?,
        };
        let minor = whole_value * 100 + fraction_value;
        if minor > max_minor {
            return Err(too_large());
        }
        Ok(Self { minor })
    }

    /// `self * quantity`, or None when it does not fit.
    pub fn times(self, quantity: i64) -> Option<Money> {
        self.minor.checked_mul(quantity).and_then(Money::from_minor)
    }

    pub fn plus(self, other: Money) -> Option<Money> {
        self.minor
            .checked_add(other.minor)
            .and_then(Money::from_minor)
    }
}

impl fmt::Display for Money {
    /// Always two fraction digits: `12.50`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{:02}", self.minor / 100, self.minor % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_exact_amounts() {
        for (raw, rendered) in [
            ("12.50", "12.50"),
            ("12.5", "12.50"),
            ("12", "12.00"),
            ("0", "0.00"),
            ("0.01", "0.01"),
            ("007.10", "7.10"),
            ("999999999999.99", "999999999999.99"),
        ] {
            let money = Money::parse_unit_price(raw).expect(raw);
            assert_eq!(money.to_string(), rendered, "{raw}");
        }
    }

    #[test]
    fn rejects_everything_that_is_not_an_exact_non_negative_decimal() {
        for raw in [
            "",
            "-1",
            "-0.01",
            "1.",
            ".5",
            "1.234",
            "1e3",
            " 1",
            "1 ",
            "1,50",
            "abc",
            "NaN",
            "1000000000000",
            "+1",
            "0x10",
            "١٢",
        ] {
            assert!(
                Money::parse_unit_price(raw).is_err(),
                "{raw:?} was accepted"
            );
        }
    }

    #[test]
    fn arithmetic_is_exact_and_checked() {
        let price = Money::parse_unit_price("0.10").expect("valid");
        let total = price.times(3).expect("fits");
        assert_eq!(total.to_string(), "0.30");
        assert!(
            Money::parse_unit_price("999999999999.99")
                .expect("valid")
                .times(1_000_000)
                .is_none()
        );
    }
}
