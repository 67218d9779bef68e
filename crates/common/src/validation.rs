//! Collecting every wrong field of a request, so one answer names them all, and answering with
//! them: a gRPC status carrying `google.rpc.BadRequest` field violations (REST renders them in
//! problem+json).

use std::fmt;

use tonic_types::{ErrorDetails, StatusExt};

/// The longest idempotency key accepted.
pub const REQUEST_ID_MAX_CHARS: usize = 200;

/// One wrong field. `field` is a snake_case path such as `applications[3].items[0].unit_price`;
/// REST renders it in lowerCamelCase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.field, self.description)
    }
}

/// Accumulates violations under a path prefix.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<FieldViolation>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.items.push(FieldViolation::new(field, description));
    }

    /// Keeps the value when `result` is Ok, records the violation under `field` otherwise.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description);
                None
            }
        }
    }

    /// Moves violations found in a nested value under `prefix`.
    pub fn absorb(&mut self, prefix: &str, nested: Vec<FieldViolation>) {
        self.items
            .extend(nested.into_iter().map(|violation| FieldViolation {
                field: format!("{prefix}.{}", violation.field),
                description: violation.description,
            }));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldViolation>> {
        if self.items.is_empty() {
            Ok(value())
        } else {
            Err(self.items)
        }
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.items
    }
}

/// A status of `code` with `message` and every violation as a `google.rpc.BadRequest` detail.
pub fn bad_request_status(
    code: tonic::Code,
    message: impl Into<String>,
    violations: &[FieldViolation],
) -> tonic::Status {
    let details = ErrorDetails::with_bad_request(
        violations
            .iter()
            .map(|violation| {
                tonic_types::FieldViolation::new(
                    violation.field.clone(),
                    violation.description.clone(),
                )
            })
            .collect::<Vec<_>>(),
    );
    tonic::Status::with_error_details(code, message, details)
}

/// An idempotency key: 1 to 200 visible characters; empty means no key.
pub fn parse_request_id(raw: &str) -> Result<Option<String>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw
        .chars()
        .any(|character| character.is_control() || character.is_whitespace())
    {
        return Err("must not contain white space or control characters".to_owned());
    }
    if raw.chars().count() > REQUEST_ID_MAX_CHARS {
        return Err(format!("must be at most {REQUEST_ID_MAX_CHARS} characters"));
    }
    Ok(Some(raw.to_owned()))
}

/// Renders a snake_case field path in lowerCamelCase: `items[0].unit_price` → `items[0].unitPrice`.
pub fn camel_case_path(path: &str) -> String {
    let mut rendered = String::with_capacity(path.len());
    let mut upper_next = false;
    for character in path.chars() {
        if character == '_' {
            upper_next = true;
        } else if upper_next {
            rendered.extend(character.to_uppercase());
            upper_next = false;
        } else {
            rendered.push(character);
        }
    }
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_visible_characters_of_bounded_length() {
        assert_eq!(parse_request_id(""), Ok(None));
        assert_eq!(parse_request_id("abc-1"), Ok(Some("abc-1".to_owned())));
        assert!(parse_request_id("a b").is_err());
        assert!(parse_request_id(&"k".repeat(201)).is_err());
        assert_eq!(
            parse_request_id(&"к".repeat(200)).map(|key| key.map(|key| key.chars().count())),
            Ok(Some(200))
        );
    }

    #[test]
    fn camel_case_path_renders_nested_paths() {
        assert_eq!(
            camel_case_path("applications[3].items[0].unit_price"),
            "applications[3].items[0].unitPrice"
        );
        assert_eq!(camel_case_path("applied_from"), "appliedFrom");
    }
}
