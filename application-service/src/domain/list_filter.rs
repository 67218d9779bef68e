//! Filters of the list and search queries: the filing-date window, statuses and page size.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use super::{
    status::ApplicationStatus,
    validation::{FieldViolation, Violations},
};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// `applied_at` window: `from` inclusive, `before` exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AppliedRange {
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(pub u32);

/// A valid filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub applied: AppliedRange,
    pub statuses: Vec<ApplicationStatus>,
}

impl AppliedRange {
    /// `applied_from`/`applied_to` as whole UTC days (`2025-03-01`, both inclusive) or RFC 3339
    /// timestamps (exact bounds, both inclusive).
    pub fn parse(
        applied_from: Option<&str>,
        applied_to: Option<&str>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let from = violations
            .check("applied_from", parse_bound(applied_from, Bound::Lower))
            .flatten();
        let before = violations
            .check("applied_to", parse_bound(applied_to, Bound::Upper))
            .flatten();
        if let (Some(from), Some(before)) = (from, before)
            && from >= before
        {
            violations.add("applied_to", "must not be earlier than applied_from");
        }
        violations.into_result(|| Self { from, before })
    }
}

impl PageSize {
    /// 0 or absent means the default.
    pub fn parse(raw: Option<i64>) -> Result<Self, String> {
        match raw {
            None | Some(0) => Ok(Self(DEFAULT_PAGE_SIZE)),
            Some(size) if (1..=i64::from(MAX_PAGE_SIZE)).contains(&size) => {
                Ok(Self(u32::try_from(size).unwrap_or(DEFAULT_PAGE_SIZE)))
            }
            Some(size) => Err(format!(
                "must be between 1 and {MAX_PAGE_SIZE} (got {size})"
            )),
        }
    }
}

#[derive(Clone, Copy)]
enum Bound {
    Lower,
    Upper,
}

fn parse_bound(raw: Option<&str>, bound: Bound) -> Result<Option<DateTime<Utc>>, String> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Ok(None);
    };
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = match bound {
            Bound::Lower => Some(day),
            Bound::Upper => day.checked_add_days(Days::new(1)),
        };
        return day
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|midnight| Some(midnight.and_utc()))
            .ok_or_else(|| format!("{raw:?} is out of range"));
    }
    match DateTime::parse_from_rfc3339(raw) {
        Ok(timestamp) => {
            let timestamp = timestamp.with_timezone(&Utc);
            Ok(Some(match bound {
                Bound::Lower => timestamp,
                // Inclusive upper bound at the database's microsecond precision.
                Bound::Upper => timestamp + TimeDelta::microseconds(1),
            }))
        }
        Err(_) => Err(format!(
            "{raw:?} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_are_inclusive() {
        let range = AppliedRange::parse(Some("2025-03-01"), Some("2025-03-02")).expect("valid");
        assert_eq!(
            range.from.map(|at| at.to_rfc3339()).as_deref(),
            Some("2025-03-01T00:00:00+00:00")
        );
        assert_eq!(
            range.before.map(|at| at.to_rfc3339()).as_deref(),
            Some("2025-03-03T00:00:00+00:00")
        );
    }

    #[test]
    fn timestamps_are_accepted() {
        let range = AppliedRange::parse(Some("2025-03-01T10:00:00+03:00"), None).expect("valid");
        assert_eq!(
            range.from.map(|at| at.to_rfc3339()).as_deref(),
            Some("2025-03-01T07:00:00+00:00")
        );
    }

    #[test]
    fn bad_dates_name_the_field() {
        let errors =
            AppliedRange::parse(Some("yesterday"), Some("2025-02-30")).expect_err("invalid");
        let fields: Vec<_> = errors
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["applied_from", "applied_to"]);
        let reversed =
            AppliedRange::parse(Some("2025-03-02"), Some("2025-03-01")).expect_err("reversed");
        assert_eq!(reversed[0].field, "applied_to");
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(PageSize::parse(None), Ok(PageSize(50)));
        assert_eq!(PageSize::parse(Some(0)), Ok(PageSize(50)));
        assert_eq!(PageSize::parse(Some(1000)), Ok(PageSize(1000)));
        assert!(PageSize::parse(Some(1001)).is_err());
        assert!(PageSize::parse(Some(-1)).is_err());
    }
}
