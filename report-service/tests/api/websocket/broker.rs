//! Application events on RabbitMQ, watched and published as application-service does.

use futures::StreamExt;
use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use serde_json::Value;
use zayavki_common::amqp::topology;

use crate::helpers::PATIENCE;

/// The next message on `consumer` about a change to `status`.
pub async fn next_delivery_with_status(
    consumer: &mut lapin::Consumer,
    status: &str,
) -> lapin::message::Delivery {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let delivery = consumer
                .next()
                .await
                .expect("the consumer runs")
                .expect("a delivery");
            let body: Value = serde_json::from_slice(&delivery.data).expect("JSON");
            if body["status"] == status {
                return delivery;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no application event with status {status}"))
}

/// Publishes an application event as application-service does (the same `message_id` makes it
/// the same event).
pub async fn publish_application_event(
    channel: &lapin::Channel,
    properties: &BasicProperties,
    body: &[u8],
) {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let confirm = channel
        .basic_publish(
            ShortString::from(topology::APPLICATIONS_EVENTS),
            ShortString::from("application.status_changed"),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body,
            properties
                .clone()
                .with_delivery_mode(2)
                .with_content_type(ShortString::from("application/json")),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    assert!(confirm.is_ack());
}
