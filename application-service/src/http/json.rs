//! JSON request bodies whose every rejection is our problem+json: a body over the size limit
//! (413), a body that is not `application/json` (415), and invalid JSON, wrong types, missing or
//! unknown properties (400 naming the property by its lowerCamelCase path).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use zayavki_common::{
    ErrorCode,
    problem::{FieldError, Problem},
};

use super::{HttpState, dto::Object, problem_mapping};

/// Where a body that is not JSON at all is reported.
const BODY_FIELD: &str = "body";

/// A required JSON body.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A body that may be absent or empty (then no `Content-Type` is needed); otherwise JSON.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<HttpState> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &HttpState) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = read_body(request, state).await?;
        if bytes.is_empty() && !headers.contains_key(CONTENT_TYPE) {
            return Err(problem_mapping::invalid(vec![FieldError {
                field: BODY_FIELD.to_owned(),
                message: "a JSON body is required".to_owned(),
            }]));
        }
        require_json_content_type(&headers)?;
        parse(&bytes).map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<HttpState> for OptionalJsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &HttpState) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = read_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        require_json_content_type(&headers)?;
        parse(&bytes).map(|value| Self(Some(value)))
    }
}

async fn read_body(request: Request, state: &HttpState) -> Result<(HeaderMap, Bytes), Problem> {
    let headers = request.headers().clone();
    match Bytes::from_request(request, state).await {
        Ok(bytes) => Ok((headers, bytes)),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(payload_too_large(state.body_limit_bytes))
        }
        Err(rejection) => Err(Problem::new(
            ErrorCode::InvalidArgument,
            "The request body could not be read.",
        )
        .with_errors(vec![FieldError {
            field: BODY_FIELD.to_owned(),
            message: rejection.body_text(),
        }])),
    }
}

fn payload_too_large(limit_bytes: usize) -> Problem {
    Problem::with_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!("The request body exceeds {limit_bytes} bytes."),
    )
}

fn require_json_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    if is_json(headers) {
        Ok(())
    } else {
        Err(Problem::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "The request body must be application/json.",
        ))
    }
}

/// `application/json`, or any `application/…+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Syntax first (the body as a whole), then the shape (each property by its path).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        Problem::new(
            ErrorCode::InvalidArgument,
            "The request body is not valid JSON.",
        )
        .with_errors(vec![FieldError {
            field: BODY_FIELD.to_owned(),
            message: error.to_string(),
        }])
    })?;
    serde_path_to_error::deserialize(value)
        .map(|Object(body)| body)
        .map_err(|error| problem_mapping::invalid(vec![shape_error(&error)]))
}

/// Names the property a deserialization error is about. Serde reports a missing property at
/// its parent object, so the property's own name is appended.
fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let parent = render_path(error.path());
    let message = error.inner().to_string();
    let join = |name: &str| match parent.as_deref() {
        Some(parent) => format!("{parent}.{name}"),
        None => name.to_owned(),
    };
    if let Some(name) = quoted_name(&message, "unknown field `") {
        // The path already ends at the unknown key when the deserializer visited it.
        let names_it =
            matches!(error.path().iter().next_back(), Some(Segment::Map { key }) if key == name);
        return FieldError {
            field: if names_it {
                parent.unwrap_or_default()
            } else {
                join(name)
            },
            message: "unknown field".to_owned(),
        };
    }
    if let Some(name) = quoted_name(&message, "missing field `") {
        return FieldError {
            field: join(name),
            message: "is required".to_owned(),
        };
    }
    FieldError {
        field: parent.unwrap_or_else(|| BODY_FIELD.to_owned()),
        message,
    }
}

/// The name between the backticks of serde's standard `unknown field`/`missing field` messages.
fn quoted_name<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name)
}

/// `applications[3].items[0].unitPrice`; None for the body as a whole.
fn render_path(path: &serde_path_to_error::Path) -> Option<String> {
    let mut rendered = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => rendered.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(key);
            }
            Segment::Unknown => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push('?');
            }
        }
    }
    (!rendered.is_empty()).then_some(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::dto::{BatchCreateBody, NewApplicationBody};

    fn fields<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> Vec<(String, String)> {
        parse::<T>(body.as_bytes())
            .expect_err("rejected")
            .errors
            .into_iter()
            .map(|error| (error.field, error.message))
            .collect()
    }

    #[test]
    fn syntax_errors_name_the_body() {
        let errors = fields::<NewApplicationBody>("{\"title\": ");
        assert_eq!(errors[0].0, "body");
        assert!(errors[0].1.contains("line 1"), "{errors:?}");
    }

    #[test]
    fn unknown_and_missing_properties_are_named_by_their_own_path() {
        assert_eq!(
            fields::<NewApplicationBody>(r#"{"title": "x", "applicant": "mallory"}"#),
            [("applicant".to_owned(), "unknown field".to_owned())]
        );
        assert_eq!(
            fields::<BatchCreateBody>(r#"{"applications": [{"title": "x"}, {"items": []}]}"#),
            [("applications[1].title".to_owned(), "is required".to_owned())]
        );
        assert_eq!(
            fields::<BatchCreateBody>(
                r#"{"applications": [{"title": "x", "items": [{"name": "a", "quantity": 1, "unitPrice": "1", "colour": 1}]}]}"#
            ),
            [(
                "applications[0].items[0].colour".to_owned(),
                "unknown field".to_owned()
            )]
        );
    }

    #[test]
    fn wrong_types_name_the_property() {
        let errors = fields::<NewApplicationBody>(
            r#"{"title": "x", "items": [{"name": "a", "quantity": 1, "unitPrice": 12.5}]}"#,
        );
        assert_eq!(errors[0].0, "items[0].unitPrice");
        assert!(errors[0].1.contains("expected a string"), "{errors:?}");
        assert_eq!(fields::<NewApplicationBody>("[]")[0].0, "body");
        // Serde would read a struct from an array of its fields; the document allows objects.
        assert_eq!(fields::<NewApplicationBody>(r#"["x"]"#)[0].0, "body");
        assert_eq!(
            fields::<BatchCreateBody>(r#"{"applications": [["x"]]}"#),
            [(
                "applications[0]".to_owned(),
                "invalid type: sequence, expected an object".to_owned()
            )]
        );
        assert_eq!(
            fields::<BatchCreateBody>(r#"{"applications": [{"title": 1}]}"#)[0].0,
            "applications[0].title"
        );
    }

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(CONTENT_TYPE, value.parse().expect("header"));
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }
}
