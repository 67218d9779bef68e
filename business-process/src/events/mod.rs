//! Consuming RabbitMQ: application events drive processes; report events join their history.

pub mod application_events;
pub mod report_events;

use serde_json::Value;

/// A JSON body, or the reason it cannot be one.
pub(crate) fn json_body(data: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(data).map_err(|error| format!("the body is not JSON: {error}"))
}
