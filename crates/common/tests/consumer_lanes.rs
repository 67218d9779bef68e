//! The shared consumer with lanes: deliveries of different keys are handled at the same time,
//! those of one key in the order they were published, and every one is acknowledged once.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use lapin::{
    BasicProperties,
    message::Delivery,
    options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions},
    types::FieldTable,
};
use serde::Deserialize;
use tokio::sync::{Notify, mpsc};
use zayavki_common::amqp::{
    ConsumerSettings, DeliveryHandler, Handled, declare_topology, run_consumer, topology,
};
use zayavki_common::shutdown::CancellationToken;
use zayavki_testkit::TestBroker;

const QUEUE: &str = topology::BUSINESS_PROCESS_REPORT_EVENTS;
const PER_KEY: u64 = 5;
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Body {
    key: u64,
    seq: u64,
}

/// Records what it handles. The first message of key 1 waits until a message of key 2 has been
/// handled: with one lane that never happens (the test runs out of patience).
struct Recorder {
    handled: Mutex<Vec<(u64, u64)>>,
    key_two_seen: Notify,
    done: mpsc::UnboundedSender<()>,
}

#[async_trait]
impl DeliveryHandler for Recorder {
    async fn handle(&self, delivery: &Delivery) -> Handled {
        let Ok(body) = serde_json::from_slice::<Body>(&delivery.data) else {
            return Handled::Reject("not a test message".to_owned());
        };
        if (body.key, body.seq) == (1, 0) {
            self.key_two_seen.notified().await;
        }
        self.handled
            .lock()
            .expect("not poisoned")
            .push((body.key, body.seq));
        if body.key == 2 {
            self.key_two_seen.notify_one();
        }
        let _ = self.done.send(());
        Handled::Done
    }

    fn lane_key(&self, delivery: &Delivery) -> u64 {
        serde_json::from_slice::<Body>(&delivery.data).map_or(0, |body| body.key)
    }
}

#[tokio::test]
async fn lanes_overlap_different_keys_and_keep_each_keys_order() {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let (_connection, channel) = broker.channel().await.expect("broker reachable");
    declare_topology(&channel).await.expect("topology");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    // Key 1's first message comes first and blocks its lane until key 2 is handled.
    let mut published = vec![(1, 0)];
    published.extend((0..PER_KEY).map(|seq| (2, seq)));
    published.extend((1..PER_KEY).map(|seq| (1, seq)));
    for (key, seq) in &published {
        let body = serde_json::json!({"key": key, "seq": seq}).to_string();
        let confirmation = channel
            .basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default(),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
        assert!(confirmation.is_ack());
    }

    let (done, mut handled_one) = mpsc::unbounded_channel();
    let recorder = Arc::new(Recorder {
        handled: Mutex::new(Vec::new()),
        key_two_seen: Notify::new(),
        done,
    });
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        ConsumerSettings {
            amqp: broker.settings(),
            queue: QUEUE.to_owned(),
            consumer_name: "lanes test".to_owned(),
            prefetch: 32,
            max_backoff: Duration::from_secs(1),
            lanes: 2,
        },
        recorder.clone(),
        shutdown.clone(),
    ));
    for _ in 0..published.len() {
        tokio::time::timeout(PATIENCE, handled_one.recv())
            .await
            .expect("every message handled; one lane would wait for ever")
            .expect("the handler lives");
    }
    shutdown.cancel();
    consumer.await.expect("the consumer stops");

    let handled = recorder.handled.lock().expect("not poisoned").clone();
    assert_eq!(handled.len(), published.len(), "each handled once");
    let mut per_key: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (key, seq) in &handled {
        per_key.entry(*key).or_default().push(*seq);
    }
    let in_order: Vec<u64> = (0..PER_KEY).collect();
    assert_eq!(per_key[&1], in_order, "key 1 in publishing order");
    assert_eq!(per_key[&2], in_order, "key 2 in publishing order");
    assert_eq!(
        handled.first(),
        Some(&(2, 0)),
        "key 2 overtook key 1's waiting first message"
    );

    // Every delivery was acknowledged: nothing is left in the queue once the consumer is gone.
    let (_connection, channel) = broker.channel().await.expect("broker reachable");
    let queue = channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the queue exists");
    assert_eq!(queue.message_count(), 0, "nothing left unacknowledged");
}
