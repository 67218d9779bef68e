//! Strict query strings for the list, search and stats operations: only the documented
//! parameters, each single-valued one at most once, `status` repeated or comma-separated. Every
//! problem found is named in one answer; the domain then validates the values themselves (dates,
//! page tokens).

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;
use zayavki_common::problem::{FieldError, Problem};

use super::problem_mapping;
use crate::{
    domain::{ApplicationStatus, AppliedRange, StatsPeriod, list_filter::MAX_PAGE_SIZE},
    service::{ListQuery, SearchQuery, StatsQuery},
};

const LIST_PARAMETERS: [&str; 5] = [
    "appliedFrom",
    "appliedTo",
    "status",
    "pageSize",
    "pageToken",
];

const STATS_PARAMETERS: [&str; 2] = ["appliedFrom", "appliedTo"];

/// The query of `GET /applications`.
#[derive(Debug)]
pub struct ListParams(pub ListQuery);

/// The query of `GET /applications/search`.
#[derive(Debug)]
pub struct SearchParams(pub SearchQuery);

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut reader = Reader::new(parts.uri.query(), &LIST_PARAMETERS);
        let query = reader.list_query();
        reader.finish().map(|()| Self(query))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SearchParams {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut known = LIST_PARAMETERS.to_vec();
        known.push("q");
        let mut reader = Reader::new(parts.uri.query(), &known);
        let text = match reader.single("q") {
            Some(text) => text,
            None => {
                if !reader.has_error("q") {
                    reader.error("q", "is required");
                }
                String::new()
            }
        };
        let filters = reader.list_query();
        reader
            .finish()
            .map(|()| Self(SearchQuery { text, filters }))
    }
}

/// The query of `GET /applications/stats`.
#[derive(Debug)]
pub struct StatsParams(pub StatsQuery);

impl<S: Send + Sync> FromRequestParts<S> for StatsParams {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut reader = Reader::new(parts.uri.query(), &STATS_PARAMETERS);
        let applied_from = reader.single_exact("appliedFrom");
        let applied_to = reader.single_exact("appliedTo");
        // Checked here too, so a wrong period is named in the same answer as an unknown
        // parameter; the use case checks it again.
        if let Err(violations) =
            StatsPeriod::parse(applied_from.as_deref(), applied_to.as_deref(), Utc::now())
        {
            reader
                .errors
                .extend(violations.iter().map(problem_mapping::field_error));
        }
        reader.finish().map(|()| {
            Self(StatsQuery {
                applied_from,
                applied_to,
            })
        })
    }
}

/// Decoded parameters and the problems found so far.
struct Reader {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Reader {
    fn new(raw: Option<&str>, known: &[&str]) -> Self {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                // Stray separators (`?&pageSize=5&`) carry nothing.
                .filter(|(name, value)| !(name.is_empty() && value.is_empty()))
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
        let mut reader = Self {
            pairs,
            errors: Vec::new(),
        };
        let mut unknown: Vec<String> = reader
            .pairs
            .iter()
            .map(|(name, _)| name)
            .filter(|name| !known.contains(&name.as_str()))
            .cloned()
            .collect();
        unknown.dedup();
        for name in unknown {
            if !reader.has_error(&name) {
                reader.error(&name, "unknown query parameter");
            }
        }
        reader
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|error| error.field == field)
    }

    fn values(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// A parameter that may appear at most once and must not be empty.
    fn single(&mut self, name: &str) -> Option<String> {
        let values: Vec<String> = self.values(name).into_iter().map(str::to_owned).collect();
        match values.as_slice() {
            [] => None,
            [value] if value.trim().is_empty() => {
                self.error(name, "must not be empty");
                None
            }
            [value] => Some(value.clone()),
            _ => {
                self.error(name, "must be given at most once");
                None
            }
        }
    }

    /// A single value that is a token, a number or a date: surrounding white space is refused
    /// rather than silently dropped.
    fn single_exact(&mut self, name: &str) -> Option<String> {
        let value = self.single(name)?;
        if value.trim() == value {
            Some(value)
        } else {
            self.error(name, "must not start or end with white space");
            None
        }
    }

    fn list_query(&mut self) -> ListQuery {
        let applied_from = self.single_exact("appliedFrom");
        let applied_to = self.single_exact("appliedTo");
        // The domain checks the dates again; checking them here too names them in the same
        // answer as any other wrong parameter.
        if let Err(violations) = AppliedRange::parse(applied_from.as_deref(), applied_to.as_deref())
        {
            self.errors
                .extend(violations.iter().map(problem_mapping::field_error));
        }
        ListQuery {
            applied_from,
            applied_to,
            statuses: self.statuses(),
            page_size: self.page_size(),
            page_token: self.single_exact("pageToken"),
        }
    }

    /// `status=NEW&status=PROCESSING`, `status=NEW,PROCESSING`, or both mixed.
    fn statuses(&mut self) -> Vec<ApplicationStatus> {
        let mut statuses = Vec::new();
        let mut problems = Vec::new();
        for value in self.values("status") {
            for name in value.split(',') {
                if name.is_empty() {
                    problems.push("must not be empty".to_owned());
                    continue;
                }
                match name.parse::<ApplicationStatus>() {
                    Ok(status) => statuses.push(status),
                    Err(message) => problems.push(message),
                }
            }
        }
        problems.dedup();
        for message in problems {
            self.error("status", message);
        }
        statuses
    }

    /// An integer from 1 to 1000 written in plain decimal digits.
    fn page_size(&mut self) -> Option<i64> {
        let raw = self.single_exact("pageSize")?;
        let parsed = raw
            .bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| raw.parse::<i64>().ok())
            .flatten()
            .filter(|size| (1..=i64::from(MAX_PAGE_SIZE)).contains(size));
        if parsed.is_none() {
            self.error(
                "pageSize",
                format!("must be an integer from 1 to {MAX_PAGE_SIZE} (got {raw:?})"),
            );
        }
        parsed
    }

    fn finish(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(problem_mapping::invalid(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(query: &str) -> Result<ListQuery, Vec<String>> {
        let mut reader = Reader::new(Some(query), &LIST_PARAMETERS);
        let parsed = reader.list_query();
        reader.finish().map(|()| parsed).map_err(|problem| {
            problem
                .errors
                .into_iter()
                .map(|error| format!("{}: {}", error.field, error.message))
                .collect()
        })
    }

    #[test]
    fn statuses_may_be_repeated_comma_separated_or_both() {
        let parsed = list("status=NEW,PROCESSING&status=CANCELLED&pageSize=20").expect("valid");
        assert_eq!(
            parsed.statuses,
            [
                ApplicationStatus::New,
                ApplicationStatus::Processing,
                ApplicationStatus::Cancelled
            ]
        );
        assert_eq!(parsed.page_size, Some(20));
        assert!(list("").expect("empty query").statuses.is_empty());
    }

    #[test]
    fn every_problem_is_named() {
        let errors = list("status=DONE&pageSize=0&sort=title&pageToken=a&pageToken=b&appliedFrom=")
            .expect_err("invalid");
        let fields: Vec<&str> = errors
            .iter()
            .map(|error| error.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            ["sort", "appliedFrom", "status", "pageSize", "pageToken"]
        );
    }

    #[test]
    fn page_size_must_be_plain_digits_in_range() {
        for bad in ["abc", "-1", "+5", "1001", "1.5", "99999999999999999999"] {
            assert!(list(&format!("pageSize={bad}")).is_err(), "{bad}");
        }
        assert_eq!(list("pageSize=1000").expect("valid").page_size, Some(1000));
    }

    #[test]
    fn search_requires_q() {
        let mut known = LIST_PARAMETERS.to_vec();
        known.push("q");
        let reader = Reader::new(Some("q=%20"), &known);
        let mut reader = reader;
        assert!(reader.single("q").is_none());
        assert!(reader.has_error("q"));
    }
}
