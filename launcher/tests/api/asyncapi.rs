//! The AsyncAPI description (`asyncapi/asyncapi.yaml`) as a check of what the services publish:
//! each message's body against the payload schema of the message its routing key names, its
//! headers against the headers schema, and the AMQP properties ARCHITECTURE.md lists.

use std::collections::BTreeMap;

use jsonschema::Validator;
use lapin::types::AMQPValue;
use serde_json::{Map, Value};

use crate::rabbitmq::Published;

const PUBLISHERS: [&str; 3] = ["application-service", "business-process", "report-service"];
/// `$ref`s nested deeper than this are a cycle.
const MAX_REF_DEPTH: usize = 32;

/// The schemas of every AMQP message, by routing key.
pub struct Contract {
    messages: BTreeMap<String, MessageSchemas>,
}

struct MessageSchemas {
    payload: Validator,
    headers: Validator,
    /// The exchange of the channel that lists the message.
    exchange: Option<String>,
}

impl Contract {
    pub fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../asyncapi/asyncapi.yaml");
        let text = std::fs::read_to_string(path).expect("asyncapi/asyncapi.yaml is readable");
        let document: Value = serde_norway::from_str(&text).expect("asyncapi.yaml is YAML");
        let messages = document["components"]["messages"]
            .as_object()
            .expect("components.messages");
        let exchanges = exchanges_by_message(&document);
        let mut schemas = BTreeMap::new();
        for (name, message) in messages {
            let Some(routing_key) = message["bindings"]["amqp"]["messageType"].as_str() else {
                continue;
            };
            let compile = |part: &str| {
                let schema = resolve(&document, &message[part], 0);
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|error| panic!("{routing_key} {part}: {error}"))
            };
            schemas.insert(
                routing_key.to_owned(),
                MessageSchemas {
                    payload: compile("payload"),
                    headers: compile("headers"),
                    exchange: exchanges.get(name).cloned(),
                },
            );
        }
        assert!(!schemas.is_empty(), "asyncapi.yaml describes AMQP messages");
        Self { messages: schemas }
    }

    pub fn routing_keys(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }

    /// What is wrong with `message`; empty when it keeps the contract.
    pub fn problems(&self, message: &Published) -> Vec<String> {
        let key = &message.routing_key;
        let Some(schemas) = self.messages.get(key) else {
            return vec![format!(
                "{key}: no message of asyncapi.yaml has this routing key"
            )];
        };
        let mut problems = Vec::new();
        let body: Value = match serde_json::from_slice(&message.body) {
            Ok(body) => body,
            Err(error) => return vec![format!("{key}: the body is not JSON: {error}")],
        };
        problems.extend(
            schemas
                .payload
                .iter_errors(&body)
                .map(|error| format!("{key} body {}: {error}", error.instance_path())),
        );
        let headers = headers_json(message);
        problems.extend(
            schemas
                .headers
                .iter_errors(&headers)
                .map(|error| format!("{key} headers: {error}")),
        );
        if schemas.exchange.as_deref() != Some(message.exchange.as_str()) {
            problems.push(format!(
                "{key}: published to {}, asyncapi.yaml says {:?}",
                message.exchange, schemas.exchange
            ));
        }
        problems.extend(
            property_problems(message)
                .into_iter()
                .map(|problem| format!("{key}: {problem}")),
        );
        problems
    }
}

/// The exchange each message (by its name under `components.messages`) is published to: the
/// address of the routing-key channel that lists it.
fn exchanges_by_message(document: &Value) -> BTreeMap<String, String> {
    let mut exchanges = BTreeMap::new();
    let channels = document["channels"].as_object().expect("channels");
    for channel in channels.values() {
        if channel["bindings"]["amqp"]["is"] != "routingKey" {
            continue;
        }
        let exchange = channel["address"].as_str().expect("an address");
        for message in channel["messages"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            if let Some(name) = message["$ref"]
                .as_str()
                .and_then(|reference| reference.strip_prefix("#/components/messages/"))
            {
                exchanges.insert(name.to_owned(), exchange.to_owned());
            }
        }
    }
    exchanges
}

/// The properties every message carries (ARCHITECTURE.md, "RabbitMQ topology").
fn property_problems(message: &Published) -> Vec<String> {
    let properties = &message.properties;
    let mut problems = Vec::new();
    if *properties.delivery_mode() != Some(2) {
        problems.push(format!(
            "not persistent (delivery mode {:?})",
            properties.delivery_mode()
        ));
    }
    if properties
        .message_id()
        .as_ref()
        .is_none_or(|id| uuid::Uuid::parse_str(id.as_str()).is_err())
    {
        problems.push(format!("message_id {:?} is no id", properties.message_id()));
    }
    if properties.kind().as_ref().map(|kind| kind.as_str()) != Some(message.routing_key.as_str()) {
        problems.push(format!(
            "type {:?} is not the routing key",
            properties.kind()
        ));
    }
    if properties.content_type().as_ref().map(|kind| kind.as_str()) != Some("application/json") {
        problems.push(format!("content_type {:?}", properties.content_type()));
    }
    if properties.timestamp().is_none_or(|at| at == 0) {
        problems.push("no timestamp".to_owned());
    }
    let app_id = properties.app_id().as_ref().map(|id| id.as_str());
    if !app_id.is_some_and(|id| PUBLISHERS.contains(&id)) {
        problems.push(format!("app_id {app_id:?} is none of {PUBLISHERS:?}"));
    }
    if !headers_json(message)
        .get("traceparent")
        .is_some_and(Value::is_string)
    {
        problems.push("no traceparent header".to_owned());
    }
    problems
}

/// The string headers of `message` as a JSON object.
fn headers_json(message: &Published) -> Value {
    let mut object = Map::new();
    if let Some(headers) = message.properties.headers() {
        for (name, value) in headers.inner() {
            let text = match value {
                AMQPValue::LongString(text) => text.to_string(),
                AMQPValue::ShortString(text) => text.as_str().to_owned(),
                other => format!("{other:?}"),
            };
            object.insert(name.as_str().to_owned(), Value::String(text));
        }
    }
    Value::Object(object)
}

/// `schema` with every `$ref` into the document replaced by what it points at (siblings of a
/// `$ref`, such as a description, kept).
fn resolve(document: &Value, schema: &Value, depth: usize) -> Value {
    assert!(depth < MAX_REF_DEPTH, "$ref cycle in asyncapi.yaml");
    match schema {
        Value::Object(object) => {
            let mut resolved = Map::new();
            if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{reference} points outside the document"));
                let target = document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} points at nothing"));
                if let Value::Object(target) = resolve(document, target, depth + 1) {
                    resolved.extend(target);
                }
            }
            for (name, value) in object {
                if name != "$ref" {
                    resolved.insert(name.clone(), resolve(document, value, depth));
                }
            }
            Value::Object(resolved)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve(document, item, depth))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn a_message_breaking_the_contract_is_reported_for_each_fault() {
    let contract = Contract::load();
    let body = serde_json::json!({
        "eventId": "not-a-uuid",
        "type": "application.created",
        "occurredAt": "2026-12-02T10:15:30Z",
        "applicationId": "0193a1d2-7c4e-7b1a-9f00-000000000001",
        "applicant": "alice",
        "status": "NEW",
        "version": 1,
        "totalAmount": "12.5",
        "title": "Ложки",
        "extra": true,
    });
    let message = Published {
        exchange: "reports".to_owned(),
        routing_key: "application.created".to_owned(),
        properties: lapin::BasicProperties::default()
            .with_content_type("text/plain".into())
            .with_app_id("someone".into()),
        body: serde_json::to_vec(&body).expect("JSON"),
    };

    let problems = contract.problems(&message).join("\n");

    for fault in [
        "/eventId",
        "/totalAmount",
        "extra",
        "published to reports",
        "not persistent",
        "message_id",
        "type None",
        "content_type",
        "no timestamp",
        "app_id",
        "no traceparent",
    ] {
        assert!(problems.contains(fault), "{fault} in\n{problems}");
    }
}
