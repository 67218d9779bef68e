//! Checks of the free text and keys in requests, and the collection of wrong fields a request
//! is refused with (every wrong field at once, not the first one only).

pub use zayavki_common::validation::parse_request_id;

use crate::domain::{ProcessError, error::FieldViolation};

pub const COMMENT_MAX_CHARS: usize = 1_000;
pub const APPLICANT_MAX_CHARS: usize = 200;

/// The wrong fields of one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// The value, or None with `field` recorded as wrong.
    pub fn check<T>(&mut self, field: &str, outcome: Result<T, String>) -> Option<T> {
        outcome
            .map_err(|description| self.add(field, description))
            .ok()
    }

    /// `value` when nothing was wrong, the whole list otherwise.
    pub fn into_result<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, ProcessError> {
        match value() {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if self.0.is_empty() => Err(ProcessError::Internal(anyhow::anyhow!(
                "a request was refused without naming a wrong field"
            ))),
            _ => Err(ProcessError::Validation(self.0)),
        }
    }
}

/// An operator's comment: kept as written (line breaks and tabs allowed), at most 1,000
/// characters; blank means none.
pub fn parse_comment(raw: &str) -> Result<Option<String>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    if raw
        .chars()
        .any(|character| character.is_control() && !matches!(character, '\n' | '\r' | '\t'))
    {
        return Err(
            "must not contain control characters other than line breaks and tabs".to_owned(),
        );
    }
    let length = raw.chars().count();
    if length > COMMENT_MAX_CHARS {
        return Err(format!(
            "must be at most {COMMENT_MAX_CHARS} characters (got {length})"
        ));
    }
    Ok(Some(raw.to_owned()))
}

/// An applicant (a token subject): trimmed, 1 to 200 characters on one line.
pub fn parse_applicant(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters such as line breaks or NUL".to_owned());
    }
    let length = trimmed.chars().count();
    if length > APPLICANT_MAX_CHARS {
        return Err(format!(
            "must be at most {APPLICANT_MAX_CHARS} characters (got {length})"
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_count_characters_and_keep_line_breaks() {
        assert_eq!(parse_comment("  "), Ok(None));
        assert_eq!(
            parse_comment("Дорого.\nПерезаявите"),
            Ok(Some("Дорого.\nПерезаявите".to_owned()))
        );
        assert!(parse_comment(&"я".repeat(1_000)).is_ok());
        assert!(parse_comment(&"я".repeat(1_001)).is_err());
        assert!(parse_comment("nul\u{0}").is_err());
    }

    #[test]
    fn applicants_are_trimmed_single_lines() {
        assert_eq!(parse_applicant(" alice "), Ok("alice".to_owned()));
        assert!(parse_applicant("").is_err());
        assert!(parse_applicant("a\nb").is_err());
    }

    #[test]
    fn every_wrong_field_is_named() {
        let mut violations = Violations::new();
        let applicant = violations.check("applicant", parse_applicant(""));
        let comment = violations.check("comment", parse_comment(&"x".repeat(1_001)));
        let Err(ProcessError::Validation(wrong)) =
            violations.into_result(|| applicant.zip(comment))
        else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = wrong
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["applicant", "comment"]);
    }
}
