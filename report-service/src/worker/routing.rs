//! Where a job goes when this attempt is not its last word: a delay queue to be tried again, or
//! `reports.dead` for operators. Both publishes wait for the broker's confirm before the job's
//! delivery is acknowledged, so a job is never lost between the two.

use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::BasicPublishOptions,
    types::{AMQPValue, LongString, ShortString},
};
use zayavki_common::amqp::topology;

pub const ATTEMPTS_HEADER: &str = "x-attempts";
pub const FAILURE_REASON_HEADER: &str = "x-failure-reason";

/// Failed attempts the job carries from earlier deliveries (`x-attempts`, 0 when absent).
pub fn attempts_so_far(delivery: &Delivery) -> u32 {
    let Some(headers) = delivery.properties.headers() else {
        return 0;
    };
    match headers.inner().get(ATTEMPTS_HEADER) {
        Some(AMQPValue::ShortShortInt(value)) => u32::try_from(*value).unwrap_or(0),
        Some(AMQPValue::ShortShortUInt(value)) => u32::from(*value),
        Some(AMQPValue::ShortInt(value)) => u32::try_from(*value).unwrap_or(0),
        Some(AMQPValue::ShortUInt(value)) => u32::from(*value),
        Some(AMQPValue::LongInt(value)) => u32::try_from(*value).unwrap_or(0),
        Some(AMQPValue::LongUInt(value)) => *value,
        Some(AMQPValue::LongLongInt(value)) => u32::try_from(*value).unwrap_or(0),
        _ => 0,
    }
}

/// The delay queue after `failed_attempts` failures: 10 s, then 1 min, then 5 min.
pub fn retry_queue(failed_attempts: u32) -> &'static str {
    let index = (failed_attempts.max(1) as usize - 1).min(topology::REPORTS_JOBS_RETRY.len() - 1);
    topology::REPORTS_JOBS_RETRY[index].0
}

fn properties(delivery: &Delivery, attempts: u32, reason: &str) -> BasicProperties {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        ShortString::from(ATTEMPTS_HEADER),
        AMQPValue::LongInt(i32::try_from(attempts).unwrap_or(i32::MAX)),
    );
    headers.insert(
        ShortString::from(FAILURE_REASON_HEADER),
        AMQPValue::LongString(LongString::from(reason.to_owned())),
    );
    delivery.properties.clone().with_headers(headers)
}

/// Publishes the job to the delay queue for its `attempts`-th failure.
pub async fn publish_retry(
    channel: &Channel,
    delivery: &Delivery,
    attempts: u32,
    reason: &str,
) -> anyhow::Result<()> {
    let queue = retry_queue(attempts);
    publish(
        channel,
        "",
        queue,
        delivery,
        properties(delivery, attempts, reason),
    )
    .await
}

/// Publishes the job to `reports.dead` with why and after how many attempts.
pub async fn publish_dead(
    channel: &Channel,
    delivery: &Delivery,
    attempts: u32,
    reason: &str,
) -> anyhow::Result<()> {
    tracing::warn!(%reason, attempts, "report job dead-lettered");
    publish(
        channel,
        topology::REPORTS_DEAD,
        "",
        delivery,
        properties(delivery, attempts, reason),
    )
    .await
}

async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    delivery: &Delivery,
    properties: BasicProperties,
) -> anyhow::Result<()> {
    let confirmation = channel
        .basic_publish(
            ShortString::from(exchange.to_owned()),
            ShortString::from(routing_key.to_owned()),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &delivery.data,
            properties,
        )
        .await?
        .await?;
    anyhow::ensure!(
        confirmation.is_ack() && confirmation.take_message().is_none(),
        "the broker did not take the job for {exchange:?}/{routing_key:?}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_at_the_longest() {
        assert_eq!(retry_queue(1), "reports.jobs.retry.10s");
        assert_eq!(retry_queue(2), "reports.jobs.retry.1m");
        assert_eq!(retry_queue(3), "reports.jobs.retry.5m");
        assert_eq!(retry_queue(9), "reports.jobs.retry.5m");
    }
}
