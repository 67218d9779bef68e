//! Applications counted per UTC calendar day and status: the period such a count may cover, and
//! one counted group.

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use super::{
    list_filter::AppliedRange,
    status::ApplicationStatus,
    validation::{FieldViolation, Violations},
};

/// The longest period one count covers, so its answer stays a chart's worth of rows.
pub const MAX_PERIOD_DAYS: u16 = 366;

/// A filing-date window of at most [`MAX_PERIOD_DAYS`] days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsPeriod {
    /// Always has a lower bound; the upper one is open when none was given, as in listings.
    pub applied: AppliedRange,
}

impl StatsPeriod {
    /// `applied_from`/`applied_to` read exactly as listings read them (whole UTC days or
    /// RFC 3339 instants, both inclusive, both optional). Without `applied_to` the period runs
    /// until `now`; without `applied_from` it starts at the UTC midnight that makes it
    /// [`MAX_PERIOD_DAYS`] whole days ending with the day of its end.
    pub fn parse(
        applied_from: Option<&str>,
        applied_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let applied = AppliedRange::parse(applied_from, applied_to)?;
        let end = applied.before.unwrap_or(now);
        let mut violations = Violations::new();
        let start = match applied.from {
            Some(start) => Some(start),
            None => violations.check("applied_to", default_start(end)),
        };
        if let Some(start) = start
            && end.signed_duration_since(start) > max_period()
        {
            let field = if applied.before.is_some() {
                "applied_to"
            } else {
                "applied_from"
            };
            violations.add(
                field,
                format!("the period must not be longer than {MAX_PERIOD_DAYS} days"),
            );
        }
        violations.into_result(|| Self {
            applied: AppliedRange {
                from: start,
                before: applied.before,
            },
        })
    }
}

fn max_period() -> TimeDelta {
    TimeDelta::days(i64::from(MAX_PERIOD_DAYS))
}

/// Midnight UTC of the day `MAX_PERIOD_DAYS - 1` days before the day of the last instant
/// before `end`.
fn default_start(end: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    end.checked_sub_signed(TimeDelta::microseconds(1))
        .map(|last_instant| last_instant.date_naive())
        .and_then(|last_day| last_day.checked_sub_days(Days::new(u64::from(MAX_PERIOD_DAYS) - 1)))
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| "is out of range".to_owned())
}

/// The applications of one status filed on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayStats {
    pub day: NaiveDate,
    pub status: ApplicationStatus,
    pub count: u64,
    pub total_amount: AmountSum,
}

/// A sum of exact amounts, in minor units. Wider than [`super::Money`]: many applications at the
/// largest total together exceed what one amount may be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmountSum(pub u128);

impl fmt::Display for AmountSum {
    /// Always two fraction digits: `1234.50`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid timestamp")
            .with_timezone(&Utc)
    }

    fn fields(violations: &[FieldViolation]) -> Vec<&str> {
        violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect()
    }

    #[test]
    fn a_leap_year_of_whole_days_fits_and_one_more_day_does_not() {
        let now = at("2030-01-01T00:00:00Z");
        let leap_year =
            StatsPeriod::parse(Some("2024-01-01"), Some("2024-12-31"), now).expect("366 days fit");
        assert_eq!(leap_year.applied.from, Some(at("2024-01-01T00:00:00Z")));
        assert_eq!(leap_year.applied.before, Some(at("2025-01-01T00:00:00Z")));
        let too_long =
            StatsPeriod::parse(Some("2025-01-01"), Some("2026-01-02"), now).expect_err("367 days");
        assert_eq!(fields(&too_long), ["applied_to"]);
    }

    #[test]
    fn instants_may_span_exactly_366_days() {
        let now = at("2030-01-01T00:00:00Z");
        assert!(
            StatsPeriod::parse(
                Some("2025-01-01T00:00:00Z"),
                Some("2026-01-01T23:59:59.999999Z"),
                now
            )
            .is_ok()
        );
        // The inclusive end takes in the first instant of a 367th day.
        assert!(
            StatsPeriod::parse(
                Some("2025-01-01T00:00:00Z"),
                Some("2026-01-02T00:00:00Z"),
                now
            )
            .is_err()
        );
    }

    #[test]
    fn a_missing_start_covers_366_whole_days_up_to_the_end() {
        let now = at("2026-12-10T15:30:00Z");
        let until_now = StatsPeriod::parse(None, None, now).expect("valid");
        assert_eq!(until_now.applied.from, Some(at("2025-12-10T00:00:00Z")));
        assert_eq!(until_now.applied.before, None);

        let until_day = StatsPeriod::parse(None, Some("2026-03-01"), now).expect("valid");
        assert_eq!(until_day.applied.from, Some(at("2025-03-01T00:00:00Z")));
        assert_eq!(until_day.applied.before, Some(at("2026-03-02T00:00:00Z")));
    }

    #[test]
    fn a_missing_end_measures_the_period_until_now() {
        let now = at("2026-12-10T15:30:00Z");
        assert!(StatsPeriod::parse(Some("2025-12-10"), None, now).is_ok());
        let too_early = StatsPeriod::parse(Some("2025-12-09"), None, now).expect_err("too long");
        assert_eq!(fields(&too_early), ["applied_from"]);
        // A start after now is an empty period, not a wrong one.
        assert!(StatsPeriod::parse(Some("2027-01-01"), None, now).is_ok());
    }

    #[test]
    fn reversed_and_malformed_bounds_are_named_as_in_listings() {
        let now = at("2030-01-01T00:00:00Z");
        let reversed =
            StatsPeriod::parse(Some("2025-03-02"), Some("2025-03-01"), now).expect_err("reversed");
        assert_eq!(fields(&reversed), ["applied_to"]);
        let malformed =
            StatsPeriod::parse(Some("yesterday"), Some("2025-02-30"), now).expect_err("malformed");
        assert_eq!(fields(&malformed), ["applied_from", "applied_to"]);
    }

    #[test]
    fn sums_have_two_fraction_digits_beyond_the_range_of_one_amount() {
        assert_eq!(AmountSum(0).to_string(), "0.00");
        assert_eq!(AmountSum(123_450).to_string(), "1234.50");
        assert_eq!(AmountSum(7).to_string(), "0.07");
        let ten_largest = 10 * 999_999_999_999_999_999_u128;
        assert_eq!(AmountSum(ten_largest).to_string(), "99999999999999999.90");
    }
}
