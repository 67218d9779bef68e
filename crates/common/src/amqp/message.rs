//! The properties every message of the system carries (ARCHITECTURE.md, "RabbitMQ topology").

use chrono::{DateTime, Utc};
use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use uuid::Uuid;

use crate::telemetry::TRACEPARENT;

/// Persistent delivery mode: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// One message ready to publish: where it goes, what identifies it, and its JSON body.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OutgoingMessage {
    /// The event or report id; consumers deduplicate on it.
    pub message_id: Uuid,
    pub exchange: String,
    /// Also the message's `type`.
    pub routing_key: String,
    /// JSON, camelCase, readable in the management UI.
    pub body: String,
    /// W3C trace context of the request that caused the message.
    pub traceparent: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// The AMQP properties of `message` as published by `app_id`: persistent, with message id,
/// type, content type, timestamp, app id and a `traceparent` header.
pub fn properties(message: &OutgoingMessage, app_id: &str) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = &message.traceparent {
        headers.insert(
            ShortString::from(TRACEPARENT),
            AMQPValue::LongString(LongString::from(traceparent.clone())),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(ShortString::from(message.message_id.to_string()))
        .with_type(ShortString::from(message.routing_key.clone()))
        .with_content_type(ShortString::from("application/json"))
        .with_timestamp(u64::try_from(message.occurred_at.timestamp()).unwrap_or_default())
        .with_app_id(ShortString::from(app_id.to_owned()))
        .with_headers(headers)
}

/// The `traceparent` header of a delivery, if it has one.
pub fn traceparent_header(properties: &BasicProperties) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(TRACEPARENT)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

/// A fresh W3C `traceparent` (version 00, sampled) for a message that starts a trace.
pub fn new_traceparent() -> String {
    let trace = Uuid::new_v4().simple().to_string();
    let span = &Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traceparent_written_into_the_properties_is_read_back() {
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let message = OutgoingMessage {
            message_id: Uuid::now_v7(),
            exchange: "applications.events".to_owned(),
            routing_key: "application.created".to_owned(),
            body: "{}".to_owned(),
            traceparent: Some(traceparent.to_owned()),
            occurred_at: Utc::now(),
        };

        let properties = properties(&message, "test");

        assert_eq!(
            traceparent_header(&properties).as_deref(),
            Some(traceparent)
        );
        assert_eq!(traceparent_header(&BasicProperties::default()), None);
    }
}
