//! A small REST client over reqwest and assertions on problem+json and application bodies.

use reqwest::{Method, RequestBuilder, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use zayavki_identity::Role;

use crate::helpers::TestApp;

/// Every property an `Application` body always has.
pub const APPLICATION_PROPERTIES: [&str; 13] = [
    "id",
    "applicant",
    "title",
    "description",
    "items",
    "totalAmount",
    "status",
    "appliedAt",
    "updatedAt",
    "cancelReason",
    "cancelledAt",
    "rejectionReason",
    "version",
];

/// Calls the REST API of one test app, with or without a bearer token.
#[derive(Clone)]
pub struct Rest {
    client: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON; `Null` when it is empty or not JSON.
    pub body: Value,
}

impl Rest {
    pub fn new(app: &TestApp, token: Option<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base_url: format!("http://{}", app.http_address),
            token,
        }
    }

    pub fn as_user(app: &TestApp, subject: &str, roles: &[Role]) -> Self {
        Self::new(app, Some(app.token(subject, roles)))
    }

    pub fn applicant(app: &TestApp, subject: &str) -> Self {
        Self::as_user(app, subject, &[Role::Applicant])
    }

    pub fn operator(app: &TestApp, subject: &str) -> Self {
        Self::as_user(app, subject, &[Role::Operator])
    }

    pub fn anonymous(app: &TestApp) -> Self {
        Self::new(app, None)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request with the bearer token (if any) already set.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        send(self.request(Method::GET, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        send(self.request(Method::POST, path).json(body)).await
    }

    /// Files one application and returns its body.
    pub async fn create(&self, title: &str) -> Value {
        let reply = self
            .post_json("/applications", &new_application(title))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body
    }

    /// The id of a freshly filed application.
    pub async fn create_id(&self, title: &str) -> String {
        id_of(&self.create(title).await)
    }
}

pub async fn send(builder: RequestBuilder) -> Reply {
    let response = builder.send().await.expect("the HTTP request completes");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body is readable");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("ASCII header"))
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem with this status and `urn:zayavki:problem:<slug>` type.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        assert_eq!(
            self.body["type"],
            format!("urn:zayavki:problem:{slug}"),
            "{self:?}"
        );
        assert_eq!(self.body["status"], status, "{self:?}");
        assert!(self.body["title"].is_string(), "{self:?}");
        assert!(
            self.body["detail"]
                .as_str()
                .is_some_and(|detail| !detail.is_empty()),
            "{self:?}"
        );
        if let Some(errors) = self.body.get("errors") {
            let errors = errors.as_array().expect("errors is an array");
            assert!(!errors.is_empty(), "errors is absent rather than empty");
            for error in errors {
                assert!(error["field"].is_string() && error["message"].is_string());
            }
        }
    }

    /// Asserts a 400 invalid-argument problem naming exactly these fields, in order.
    pub fn assert_invalid(&self, fields: &[&str]) {
        self.assert_problem(400, "invalid-argument");
        assert_eq!(self.error_fields(), fields, "{self:?}");
    }

    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|error| error["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn error_message(&self, field: &str) -> String {
        self.body["errors"]
            .as_array()
            .and_then(|errors| errors.iter().find(|error| error["field"] == field))
            .and_then(|error| error["message"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A request body with a title, a description and two items (total 666.00).
pub fn new_application(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Для столовой на втором этаже",
        "items": [
            { "name": "Ложки чайные", "quantity": 12, "unitPrice": "35.50" },
            { "name": "Вилки", "quantity": 6, "unitPrice": "40" },
        ],
    })
}

pub fn id_of(application: &Value) -> String {
    application["id"]
        .as_str()
        .expect("the application has an id")
        .to_owned()
}

/// Asserts the `Application` schema: every property present with the documented JSON type.
pub fn assert_application_shape(application: &Value) {
    let object = application
        .as_object()
        .expect("an application is an object");
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = APPLICATION_PROPERTIES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "{application}");
    uuid::Uuid::parse_str(application["id"].as_str().expect("id is a string")).expect("UUID id");
    for text in [
        "applicant",
        "title",
        "totalAmount",
        "status",
        "appliedAt",
        "updatedAt",
    ] {
        assert!(application[text].is_string(), "{text} in {application}");
    }
    for nullable in [
        "description",
        "cancelReason",
        "cancelledAt",
        "rejectionReason",
    ] {
        assert!(
            application[nullable].is_string() || application[nullable].is_null(),
            "{nullable} in {application}"
        );
    }
    assert!(application["version"].is_i64());
    for item in application["items"].as_array().expect("items is an array") {
        let unit_price = item["unitPrice"].as_str().expect("unitPrice is a string");
        assert_two_fraction_digits(unit_price);
        assert!(item["quantity"].is_i64() && item["name"].is_string());
    }
    assert_two_fraction_digits(application["totalAmount"].as_str().unwrap_or_default());
    for timestamp in ["appliedAt", "updatedAt"] {
        let value = application[timestamp].as_str().unwrap_or_default();
        assert!(value.ends_with('Z'), "{timestamp} is UTC: {value}");
        chrono::DateTime::parse_from_rfc3339(value).expect("RFC 3339 timestamp");
    }
}

fn assert_two_fraction_digits(amount: &str) {
    let (whole, fraction) = amount.split_once('.').expect("a decimal point");
    assert!(
        !whole.is_empty()
            && whole.bytes().all(|byte| byte.is_ascii_digit())
            && fraction.len() == 2
            && fraction.bytes().all(|byte| byte.is_ascii_digit()),
        "{amount} has exactly two fraction digits"
    );
}
