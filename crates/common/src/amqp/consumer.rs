//! A consumer loop every service shares: one queue, manual acknowledgements, a prefetch, its own
//! reconnect loop, and a dead-letter queue for what can never be handled.
//!
//! The handler runs the message's effect and its inbox insert in one transaction and says how it
//! went: [`Handled::Done`] is acknowledged (only now: the effect is committed),
//! [`Handled::Reject`] goes to the queue's `.dead` queue with the reason in header
//! `x-failure-reason` and is then acknowledged (never a silent drop, never an endless requeue),
//! and [`Handled::Retry`] (the database is away, say) is tried again in place after a backoff,
//! so the queue's order is kept. A delivery still unacknowledged at shutdown is delivered again
//! later. Each delivery is handled inside its [`delivery_span`], which continues the trace of
//! the message's `traceparent` header.
//!
//! **Lanes.** With `lanes` above one, deliveries are handled that many at a time: each goes to
//! the lane its [`DeliveryHandler::lane_key`] picks, and a lane handles its deliveries one after
//! another in the order they came. Deliveries with the same key (one application's events, say)
//! keep their order; others overlap their database round trips and commits. A lane retrying a
//! delivery holds up only that lane. Acknowledgements go out as each delivery is settled, so not
//! in the queue's order, which AMQP allows. One lane is the plain in-order consumer.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tokio::{sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, field::Empty};

use super::{
    AmqpSettings, connect, declare_topology, message::traceparent_header,
    topology::dead_letter_queue,
};
use crate::metrics::{CONSUMER_CONNECTED, CONSUMER_MESSAGES_TOTAL, CONSUMER_UNACKNOWLEDGED};
use crate::telemetry::continue_trace;

/// What became of one delivery.
#[derive(Debug)]
pub enum Handled {
    /// The effect is committed (or was already): acknowledge.
    Done,
    /// It can never be handled (unreadable, unknown type): dead-letter it with this reason.
    Reject(String),
    /// A passing failure: handle the same delivery again after a backoff.
    Retry(anyhow::Error),
}

#[async_trait]
pub trait DeliveryHandler: Send + Sync + 'static {
    async fn handle(&self, delivery: &Delivery) -> Handled;

    /// Deliveries with the same key are handled in order, in one lane (see the module's notes);
    /// by default all share one.
    fn lane_key(&self, _delivery: &Delivery) -> u64 {
        0
    }
}

/// Which queue, and how.
#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    pub amqp: AmqpSettings,
    pub queue: String,
    /// Shown in the management UI's consumer list, with the connection name.
    pub consumer_name: String,
    pub prefetch: u16,
    pub max_backoff: Duration,
    /// Deliveries handled at a time (at least 1; see the module's notes).
    pub lanes: usize,
}

/// Consumes until `shutdown`, reconnecting with backoff whenever the connection is lost.
pub async fn run_consumer(
    settings: ConsumerSettings,
    handler: Arc<dyn DeliveryHandler>,
    shutdown: CancellationToken,
) {
    let mut backoff = backoff(settings.max_backoff);
    while !shutdown.is_cancelled() {
        let outcome = consume(&settings, &handler, &shutdown).await;
        let queue = settings.queue.clone();
        metrics::gauge!(CONSUMER_CONNECTED, "queue" => queue.clone()).set(0.0);
        metrics::gauge!(CONSUMER_UNACKNOWLEDGED, "queue" => queue).set(0.0);
        match outcome {
            Ok(()) => break,
            Err(error) => {
                let delay = backoff.next().unwrap_or(settings.max_backoff);
                tracing::warn!(
                    queue = %settings.queue,
                    error = %format!("{error:#}"),
                    retry_in = ?delay,
                    "consumer lost its connection"
                );
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tracing::debug!(queue = %settings.queue, "consumer stopped");
}

fn backoff(max: Duration) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(max)
        .with_jitter()
        .without_max_times()
        .build()
}

/// One connection's worth of consuming; `Ok` at shutdown.
async fn consume(
    settings: &ConsumerSettings,
    handler: &Arc<dyn DeliveryHandler>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let connection = connect(&settings.amqp, &settings.consumer_name).await?;
    let channel = connection.create_channel().await?;
    declare_topology(&channel).await?;
    // Dead-lettered copies are confirmed before their delivery is acknowledged.
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await?;
    let mut deliveries = channel
        .basic_consume(
            ShortString::from(settings.queue.clone()),
            ShortString::from(settings.consumer_name.clone()),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("cannot consume {}", settings.queue))?;
    tracing::info!(queue = %settings.queue, lanes = settings.lanes, "consuming");
    let connected = metrics::gauge!(CONSUMER_CONNECTED, "queue" => settings.queue.clone());
    connected.set(1.0);
    // Each lane stops at the first delivery it cannot settle (the channel failed) or at
    // shutdown; the lanes stop together when this function ends.
    let stop_lanes = shutdown.child_token();
    let mut lanes = JoinSet::new();
    let senders: Vec<mpsc::UnboundedSender<Delivery>> = (0..settings.lanes.max(1))
        .map(|_| {
            let (sender, receiver) = mpsc::unbounded_channel();
            lanes.spawn(run_lane(
                settings.clone(),
                handler.clone(),
                channel.clone(),
                receiver,
                stop_lanes.clone(),
            ));
            sender
        })
        .collect();
    let outcome = loop {
        tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            ended = lanes.join_next() => {
                break match ended {
                    Some(Ok(Err(error))) => Err(error),
                    Some(Err(panicked)) => Err(anyhow::anyhow!("a consumer lane panicked: {panicked}")),
                    _ => Ok(()),
                };
            }
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    let lane = lane_of(handler.lane_key(&delivery), senders.len());
                    // A closed lane has ended: join_next reports why on the next turn.
                    let _ = senders[lane].send(delivery);
                }
                Some(Err(error)) => break Err(error.into()),
                None => break Err(anyhow::anyhow!("the broker ended the consumer")),
            },
        }
    };
    // Deliveries still queued in a lane stay unacknowledged and come again later.
    stop_lanes.cancel();
    drop(senders);
    if outcome.is_ok() {
        // At shutdown each lane finishes the delivery in hand.
        while lanes.join_next().await.is_some() {}
        super::close_within(&connection, "shutting down", super::CLOSE_TIMEOUT).await;
    } else {
        // The connection is gone: an acknowledgement in hand may never complete, so the lanes
        // are aborted. A delivery being handled is rolled back with its transaction, one
        // committed but not acknowledged is a duplicate the inbox turns into a no-op; both come
        // again on the next connection.
        lanes.shutdown().await;
    }
    outcome
}

/// The lane of a key among `lanes`.
fn lane_of(key: u64, lanes: usize) -> usize {
    usize::try_from(key % u64::try_from(lanes).unwrap_or(1)).unwrap_or(0)
}

/// Settles the deliveries of one lane in order until `stop` or a delivery it cannot settle.
async fn run_lane(
    settings: ConsumerSettings,
    handler: Arc<dyn DeliveryHandler>,
    channel: Channel,
    mut deliveries: mpsc::UnboundedReceiver<Delivery>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let unacknowledged =
        metrics::gauge!(CONSUMER_UNACKNOWLEDGED, "queue" => settings.queue.clone());
    loop {
        let delivery = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            next = deliveries.recv() => match next {
                Some(delivery) => delivery,
                None => return Ok(()),
            },
        };
        let span = delivery_span(&settings.queue, &delivery);
        unacknowledged.increment(1.0);
        let settled = settle(&settings, handler.as_ref(), &channel, &delivery, &stop)
            .instrument(span)
            .await;
        unacknowledged.decrement(1.0);
        if !settled? {
            return Ok(());
        }
    }
}

/// The span a delivery is handled in: `message{queue, message_id, kind, trace_id}`, a child of
/// the span its `traceparent` header names. Consumers with a loop of their own handle each
/// delivery inside it (`.instrument(delivery_span(queue, &delivery))`).
pub fn delivery_span(queue: &str, delivery: &Delivery) -> Span {
    let properties = &delivery.properties;
    let span = tracing::info_span!(
        "message",
        %queue,
        message_id = properties.message_id().as_ref().map_or("", ShortString::as_str),
        kind = properties.kind().as_ref().map_or("", ShortString::as_str),
        trace_id = Empty,
    );
    continue_trace(&span, traceparent_header(properties).as_deref());
    span
}

/// Handles `delivery`, dead-letters it when it is rejected, and acknowledges it; false when
/// shutdown came first (it stays unacknowledged).
async fn settle(
    settings: &ConsumerSettings,
    handler: &dyn DeliveryHandler,
    channel: &Channel,
    delivery: &Delivery,
    shutdown: &CancellationToken,
) -> anyhow::Result<bool> {
    let Some(outcome) = handle_until_settled(settings, handler, delivery, shutdown).await else {
        return Ok(false);
    };
    let settled_as = if let Handled::Reject(reason) = outcome {
        dead_letter(channel, &settings.queue, delivery, &reason).await?;
        "dead_lettered"
    } else {
        "done"
    };
    delivery.ack(BasicAckOptions::default()).await?;
    metrics::counter!(CONSUMER_MESSAGES_TOTAL, "queue" => settings.queue.clone(), "outcome" => settled_as)
        .increment(1);
    Ok(true)
}

/// Handles `delivery`, retrying passing failures in place; `None` when shutdown came first.
async fn handle_until_settled(
    settings: &ConsumerSettings,
    handler: &dyn DeliveryHandler,
    delivery: &Delivery,
    shutdown: &CancellationToken,
) -> Option<Handled> {
    let mut backoff = backoff(settings.max_backoff);
    loop {
        match handler.handle(delivery).await {
            Handled::Retry(error) => {
                let delay = backoff.next().unwrap_or(settings.max_backoff);
                tracing::warn!(
                    queue = %settings.queue,
                    error = %format!("{error:#}"),
                    retry_in = ?delay,
                    "message not handled yet"
                );
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    () = tokio::time::sleep(delay) => {}
                }
            }
            settled => return Some(settled),
        }
    }
}

/// Publishes `delivery` as it came to the queue's dead-letter queue, with the reason and where
/// it came from in its headers, and waits for the broker's confirm.
async fn dead_letter(
    channel: &Channel,
    queue: &str,
    delivery: &Delivery,
    reason: &str,
) -> anyhow::Result<()> {
    let dead = dead_letter_queue(queue);
    tracing::warn!(%queue, %dead, %reason, "message dead-lettered");
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        ShortString::from("x-failure-reason"),
        AMQPValue::LongString(LongString::from(reason.to_owned())),
    );
    headers.insert(
        ShortString::from("x-original-queue"),
        AMQPValue::LongString(LongString::from(queue.to_owned())),
    );
    let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
    let confirmation = channel
        .basic_publish(
            ShortString::from(""),
            ShortString::from(dead),
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
        "the broker did not take the dead-lettered copy"
    );
    Ok(())
}
