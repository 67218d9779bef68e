//! A calendar month (UTC): budgets are per applicant and month of filing.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first_day: NaiveDate,
}

impl Month {
    /// The month (UTC) of `at`.
    pub fn of(at: DateTime<Utc>) -> Self {
        let date = at.date_naive();
        Self {
            first_day: date.with_day(1).unwrap_or(date),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    pub fn from_first_day(first_day: NaiveDate) -> Self {
        Self { first_day }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.first_day.format("%Y-%m"))
    }
}

impl FromStr for Month {
    type Err = String;

    /// `2026-12`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d")
            .map(|first_day| Self { first_day })
            .map_err(|_| format!("{raw:?} is not a month such as \"2026-12\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_the_utc_calendar_month() {
        let late_on_the_last_day: DateTime<Utc> = "2026-11-30T23:59:59Z".parse().expect("time");
        assert_eq!(Month::of(late_on_the_last_day).to_string(), "2026-11");
        assert_eq!(
            "2026-12".parse::<Month>().map(|month| month.to_string()),
            Ok("2026-12".to_owned())
        );
        assert!("2026-13".parse::<Month>().is_err());
        assert!("december".parse::<Month>().is_err());
    }
}
