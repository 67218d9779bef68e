//! Every change leaves as an event on RabbitMQ through the outbox: with the agreed properties,
//! in order per application, none lost when the broker refuses or the connection breaks, and
//! published by one relay at a time. Each test has its own virtual host.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use lapin::{
    Consumer,
    message::Delivery,
    options::{BasicConsumeOptions, QueueDeleteOptions},
    types::{AMQPValue, FieldTable},
};
use serde_json::Value;
use tokio::sync::watch;
use zayavki_common::{
    amqp::{AmqpSettings, declare_topology, topology},
    outbox::RelayStats,
};
use zayavki_proto::applications::v1 as pb;
use zayavki_testkit::{SilentListener, TcpProxy, TestBroker};

use crate::helpers::{
    cancel, create, draft, spawn_app_publishing_to, spawn_app_with, spawn_replica_of,
    test_relay_settings,
};

/// Long enough for a loaded machine; the tests end as soon as what they wait for happens.
const PATIENCE: Duration = Duration::from_secs(60);

/// An event as a consumer received it.
#[derive(Debug, Clone)]
struct Received {
    message_id: String,
    routing_key: String,
    body: Value,
    delivery: Arc<Delivery>,
}

impl Received {
    fn application_id(&self) -> &str {
        self.body["applicationId"].as_str().unwrap_or_default()
    }

    fn version(&self) -> i64 {
        self.body["version"].as_i64().unwrap_or_default()
    }
}

/// Reads `consumer` until `done` says enough arrived.
async fn receive_until(
    consumer: &mut Consumer,
    received: &mut Vec<Received>,
    done: impl Fn(&[Received]) -> bool,
) {
    tokio::time::timeout(PATIENCE, async {
        while !done(received) {
            let delivery = consumer
                .next()
                .await
                .expect("the consumer is open")
                .expect("a delivery");
            let body: Value = serde_json::from_slice(&delivery.data).expect("a JSON body");
            received.push(Received {
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                routing_key: delivery.routing_key.to_string(),
                body,
                delivery: Arc::new(delivery),
            });
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} events arrived in time", received.len()));
}

fn distinct(received: &[Received]) -> usize {
    received
        .iter()
        .map(|event| &event.message_id)
        .collect::<HashSet<_>>()
        .len()
}

/// Waits until the relay's statistics satisfy `condition`.
async fn wait_for_relay(
    stats: &mut watch::Receiver<RelayStats>,
    condition: impl Fn(&RelayStats) -> bool,
) -> RelayStats {
    *tokio::time::timeout(PATIENCE, stats.wait_for(|stats| condition(stats)))
        .await
        .expect("the relay got there in time")
        .expect("the relay is running")
}

/// A virtual host with the topology declared and a test queue bound to every application event.
struct Listening {
    broker: TestBroker,
    channel: lapin::Channel,
    consumer: Consumer,
    _connection: lapin::Connection,
}

async fn listen_to_application_events() -> Listening {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let (connection, channel) = broker.channel().await.expect("broker reachable");
    declare_topology(&channel).await.expect("topology declared");
    let consumer = broker
        .subscribe(&channel, topology::APPLICATIONS_EVENTS, "#")
        .await
        .expect("subscribed");
    Listening {
        broker,
        channel,
        consumer,
        _connection: connection,
    }
}

async fn outbox_message_ids(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT message_id::text FROM outbox ORDER BY change_xid, id")
        .fetch_all(pool)
        .await
        .expect("outbox readable")
}

#[tokio::test]
async fn every_kind_of_write_publishes_exactly_its_event_with_the_agreed_properties() {
    let Listening {
        broker,
        channel: _channel,
        mut consumer,
        ..
    } = listen_to_application_events().await;
    let app = spawn_app_publishing_to(&broker).await;
    let mut alice = app.applicant("alice");
    let mut lifecycle = app.lifecycle();

    let single = create(&mut alice, "Ложки чайные").await;
    let batch = alice
        .batch_create_applications(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: vec![draft("Вилки"), draft("Ножи"), draft("Тарелки")],
        })
        .await
        .expect("batch filed")
        .into_inner()
        .applications;
    cancel(&mut alice, &single.id).await;
    let transition = |id: &str| pb::TransitionRequest {
        id: id.to_owned(),
        expected_version: None,
        reason: Some("превышен бюджет".to_owned()),
    };
    lifecycle
        .start_processing(transition(&batch[0].id))
        .await
        .expect("started");
    lifecycle
        .complete_application(transition(&batch[0].id))
        .await
        .expect("completed");
    lifecycle
        .start_processing(transition(&batch[1].id))
        .await
        .expect("started");
    lifecycle
        .reject_application(transition(&batch[1].id))
        .await
        .expect("rejected");
    // Asking for the status it already has changes nothing, so publishes nothing.
    lifecycle
        .complete_application(transition(&batch[0].id))
        .await
        .expect("repeat answered");

    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| events.len() >= 9).await;

    let summary: Vec<(String, String, Option<String>, String, i64)> = received
        .iter()
        .map(|event| {
            (
                event.routing_key.clone(),
                event.application_id().to_owned(),
                event.body["previousStatus"].as_str().map(str::to_owned),
                event.body["status"].as_str().unwrap_or_default().to_owned(),
                event.version(),
            )
        })
        .collect();
    let expect = |key: &str, id: &str, previous: Option<&str>, status: &str, version: i64| {
        (
            key.to_owned(),
            id.to_owned(),
            previous.map(str::to_owned),
            status.to_owned(),
            version,
        )
    };
    let expected = vec![
        expect("application.created", &single.id, None, "NEW", 1),
        expect("application.created", &batch[0].id, None, "NEW", 1),
        expect("application.created", &batch[1].id, None, "NEW", 1),
        expect("application.created", &batch[2].id, None, "NEW", 1),
        expect(
            "application.cancelled",
            &single.id,
            Some("NEW"),
            "CANCELLED",
            2,
        ),
        expect(
            "application.status_changed",
            &batch[0].id,
            Some("NEW"),
            "PROCESSING",
            2,
        ),
        expect(
            "application.status_changed",
            &batch[0].id,
            Some("PROCESSING"),
            "COMPLETED",
            3,
        ),
        expect(
            "application.status_changed",
            &batch[1].id,
            Some("NEW"),
            "PROCESSING",
            2,
        ),
        expect(
            "application.status_changed",
            &batch[1].id,
            Some("PROCESSING"),
            "REJECTED",
            3,
        ),
    ];
    assert_eq!(summary, expected, "events in commit order");

    for event in &received {
        let properties = &event.delivery.properties;
        assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
        assert_eq!(
            event.message_id,
            event.body["eventId"].as_str().unwrap_or_default()
        );
        assert_eq!(
            properties.kind().as_ref().map(|kind| kind.to_string()),
            Some(event.routing_key.clone())
        );
        assert_eq!(event.body["type"], Value::from(event.routing_key.clone()));
        assert_eq!(
            properties
                .content_type()
                .as_ref()
                .map(|kind| kind.to_string()),
            Some("application/json".to_owned())
        );
        assert!(properties.timestamp().is_some_and(|at| at > 1_700_000_000));
        assert_eq!(
            properties.app_id().as_ref().map(|id| id.to_string()),
            Some("application-service".to_owned())
        );
        let traceparent = properties
            .headers()
            .as_ref()
            .and_then(|headers| headers.inner().get("traceparent").cloned());
        let Some(AMQPValue::LongString(traceparent)) = traceparent else {
            panic!("a traceparent header: {:?}", properties.headers());
        };
        let traceparent = traceparent.to_string();
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(
            parts.iter().map(|part| part.len()).collect::<Vec<_>>(),
            [2, 32, 16, 2],
            "W3C traceparent: {traceparent}"
        );
        assert_eq!(event.body["applicant"], "alice");
        assert_eq!(event.body["totalAmount"], "666.00");
        assert!(
            event.body["occurredAt"]
                .as_str()
                .is_some_and(|at| at.ends_with('Z'))
        );
        assert!(event.body["title"].is_string());
    }
    assert_eq!(received[0].body["title"], "Ложки чайные");
    assert_eq!(distinct(&received), 9, "one event per change");
}

/// Once `app`'s relay is connected, deletes business-process's queue: then nothing is bound to
/// `application.created`. Answers the relay's statistics.
async fn unbind_application_created(
    app: &crate::helpers::TestApp,
    channel: &lapin::Channel,
) -> watch::Receiver<RelayStats> {
    let mut stats = app.relay_stats.clone().expect("the relay runs");
    wait_for_relay(&mut stats, |stats| stats.connected).await;
    channel
        .queue_delete(
            topology::BUSINESS_PROCESS_APPLICATION_EVENTS.into(),
            QueueDeleteOptions::default(),
        )
        .await
        .expect("queue deleted");
    stats
}

#[tokio::test]
async fn an_unroutable_event_is_published_again_not_lost() {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let (_connection, channel) = broker.channel().await.expect("broker reachable");
    let app = spawn_app_publishing_to(&broker).await;
    let mut stats = unbind_application_created(&app, &channel).await;

    let filed = create(&mut app.applicant("alice"), "Бумага для принтера").await;
    wait_for_relay(&mut stats, |stats| stats.failures >= 1).await;
    assert_eq!(
        stats.borrow().published,
        0,
        "the refused event is not counted"
    );

    declare_topology(&channel)
        .await
        .expect("queue declared again");
    let mut consumer = channel
        .basic_consume(
            topology::BUSINESS_PROCESS_APPLICATION_EVENTS.into(),
            "test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consuming");
    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| !events.is_empty()).await;
    assert_eq!(received[0].application_id(), filed.id);
    assert_eq!(received[0].routing_key, "application.created");
    assert_eq!(
        outbox_message_ids(&app.pool).await,
        [received[0].message_id.clone()]
    );
}

#[tokio::test]
async fn an_optional_event_nobody_is_bound_to_is_dropped_and_the_later_ones_go_on() {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let (_connection, channel) = broker.channel().await.expect("broker reachable");
    let app = spawn_app_with(|settings| {
        let mut relay = test_relay_settings(broker.settings());
        relay.optional_routing_keys = vec!["application.created".to_owned()];
        settings.events = Some(relay);
    })
    .await;
    let mut stats = unbind_application_created(&app, &channel).await;
    // The test hears cancellations only.
    let mut consumer = broker
        .subscribe(
            &channel,
            topology::APPLICATIONS_EVENTS,
            "application.cancelled",
        )
        .await
        .expect("subscribed");

    let mut client = app.applicant("alice");
    let filed = create(&mut client, "Бумага для принтера").await;
    cancel(&mut client, &filed.id).await;

    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| !events.is_empty()).await;
    assert_eq!(received[0].routing_key, "application.cancelled");
    assert_eq!(received[0].application_id(), filed.id);
    let stats = wait_for_relay(&mut stats, |stats| stats.published >= 2).await;
    assert_eq!(
        stats.failures, 0,
        "the unbound optional event is no failure"
    );
}

#[tokio::test]
async fn a_thousand_creates_all_arrive_in_order_while_the_broker_connection_is_cut() {
    const CLIENTS: usize = 4;
    const PER_CLIENT: usize = 250;
    const CANCEL_EVERY: usize = 5;
    let Listening {
        broker,
        channel: _channel,
        mut consumer,
        ..
    } = listen_to_application_events().await;
    let proxy = TcpProxy::start(broker.address()).await.expect("proxy");
    let app = spawn_app_with(|settings| {
        settings.events = Some(test_relay_settings(AmqpSettings::new(
            broker.url_via(proxy.address()),
        )));
    })
    .await;
    let mut stats = app.relay_stats.clone().expect("the relay runs");

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let mut alice = app.applicant(&format!("client-{client}"));
        let acknowledged = acknowledged.clone();
        clients.push(tokio::spawn(async move {
            let mut events = 0;
            for number in 0..PER_CLIENT {
                let filed = create(&mut alice, &format!("Заявка {client}-{number}")).await;
                acknowledged.fetch_add(1, Ordering::SeqCst);
                events += 1;
                if number % CANCEL_EVERY == 0 {
                    cancel(&mut alice, &filed.id).await;
                    events += 1;
                }
            }
            events
        }));
    }
    // Cut once a third of the creates were answered, while the others keep coming.
    tokio::time::timeout(PATIENCE, async {
        while acknowledged.load(Ordering::SeqCst) < CLIENTS * PER_CLIENT / 3 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("creates are answered");
    let failures_before = stats.borrow().failures;
    proxy.cut();
    wait_for_relay(&mut stats, |stats| stats.failures > failures_before).await;
    let acknowledged_while_cut = acknowledged.load(Ordering::SeqCst);
    proxy.restore();

    let mut expected_events = 0;
    for client in clients {
        expected_events += client.await.expect("client finished");
    }
    assert_eq!(acknowledged.load(Ordering::SeqCst), CLIENTS * PER_CLIENT);
    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| {
        distinct(events) >= expected_events
    })
    .await;

    let stored: HashSet<String> = outbox_message_ids(&app.pool).await.into_iter().collect();
    let arrived: HashSet<String> = received
        .iter()
        .map(|event| event.message_id.clone())
        .collect();
    assert_eq!(stored.len(), expected_events, "one outbox row per change");
    assert_eq!(arrived, stored, "every stored event arrived");
    // Duplicates may arrive (republished after the cut); in order of first arrival, each
    // application's versions only go up.
    let mut seen = HashSet::new();
    let mut last_version: HashMap<String, i64> = HashMap::new();
    for event in &received {
        if !seen.insert(event.message_id.clone()) {
            continue;
        }
        let last = last_version
            .entry(event.application_id().to_owned())
            .or_insert(0);
        assert!(
            event.version() > *last,
            "application {} went from version {} to {}",
            event.application_id(),
            last,
            event.version()
        );
        *last = event.version();
    }
    println!(
        "sent {} creates, {} acknowledged when the connection was cut, {expected_events} events \
         stored, {} arrived, {} duplicates",
        CLIENTS * PER_CLIENT,
        acknowledged_while_cut,
        arrived.len(),
        received.len() - arrived.len()
    );
    assert!(proxy.connections_accepted() >= 2, "the relay reconnected");
}

#[tokio::test]
async fn one_relay_publishes_at_a_time_and_a_standby_takes_over() {
    let Listening {
        broker,
        channel: _channel,
        mut consumer,
        ..
    } = listen_to_application_events().await;
    let relay = || Some(test_relay_settings(broker.settings()));
    let first = spawn_app_with(|settings| settings.events = relay()).await;
    let mut first_stats = first.relay_stats.clone().expect("relay");
    wait_for_relay(&mut first_stats, |stats| stats.leading).await;
    let second = spawn_replica_of(&first, |settings| settings.events = relay()).await;
    let mut second_stats = second.relay_stats.clone().expect("relay");

    let mut alice = first.applicant("alice");
    let mut bob = second.applicant("bob");
    for number in 0..25 {
        create(&mut alice, &format!("Первая {number}")).await;
        create(&mut bob, &format!("Вторая {number}")).await;
    }
    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| events.len() >= 50).await;
    wait_for_relay(&mut first_stats, |stats| stats.published == 50).await;
    assert_eq!(distinct(&received), 50);
    assert_eq!(
        *second_stats.borrow(),
        RelayStats::default(),
        "the standby published nothing"
    );

    first.stop().await;
    wait_for_relay(&mut second_stats, |stats| stats.leading).await;
    for number in 0..10 {
        create(&mut bob, &format!("После {number}")).await;
    }
    receive_until(&mut consumer, &mut received, |events| events.len() >= 60).await;
    wait_for_relay(&mut second_stats, |stats| stats.published == 10).await;
    assert_eq!(
        distinct(&received),
        60,
        "nothing lost or repeated at the hand-over"
    );
}

#[tokio::test]
async fn a_restarted_relay_publishes_what_was_written_while_it_was_away() {
    let Listening {
        broker,
        channel: _channel,
        mut consumer,
        ..
    } = listen_to_application_events().await;
    let relay = || Some(test_relay_settings(broker.settings()));
    let before = spawn_app_with(|settings| settings.events = relay()).await;
    for number in 0..5 {
        create(&mut before.applicant("alice"), &format!("До {number}")).await;
    }
    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| events.len() >= 5).await;

    // A replica without a relay writes while no relay runs.
    let without_relay = spawn_replica_of(&before, |settings| settings.events = None).await;
    before.stop().await;
    for number in 0..7 {
        create(
            &mut without_relay.applicant("alice"),
            &format!("Пока никого {number}"),
        )
        .await;
    }
    let after = spawn_replica_of(&without_relay, |settings| settings.events = relay()).await;
    receive_until(&mut consumer, &mut received, |events| events.len() >= 12).await;
    let mut stats = after.relay_stats.clone().expect("relay");
    wait_for_relay(&mut stats, |stats| stats.published == 7).await;
    assert_eq!(distinct(&received), 12);
    let stored = outbox_message_ids(&after.pool).await;
    assert_eq!(
        received
            .iter()
            .map(|event| event.message_id.clone())
            .collect::<Vec<_>>(),
        stored,
        "published once each, in commit order"
    );
}

/// A broker that accepts connections and never answers (a half-dead host, a black-holed
/// route) fails each attempt after the confirm timeout: the relay goes on trying instead of
/// waiting on one connection for good, and writes go on meanwhile.
#[tokio::test]
async fn a_broker_that_never_answers_fails_each_attempt_in_time() {
    let silent = SilentListener::start().await.expect("a listener");
    let app = spawn_app_with(|settings| {
        let mut relay = test_relay_settings(AmqpSettings::new(silent.amqp_url()));
        relay.confirm_timeout = Duration::from_millis(300);
        settings.events = Some(relay);
    })
    .await;
    create(&mut app.applicant("alice"), "Пока брокер молчит").await;
    let mut stats = app.relay_stats.clone().expect("relay");
    let stats = wait_for_relay(&mut stats, |stats| stats.failures >= 3).await;
    assert!(stats.leading && !stats.connected, "{stats:?}");
    assert_eq!(stats.published, 0);
}

#[tokio::test]
async fn a_batch_of_a_thousand_writes_a_thousand_events_in_its_transaction() {
    let Listening {
        broker,
        channel: _channel,
        mut consumer,
        ..
    } = listen_to_application_events().await;
    let app = spawn_app_publishing_to(&broker).await;
    let filed = app
        .applicant("alice")
        .batch_create_applications(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: (0..1_000)
                .map(|number| draft(&format!("Позиция {number}")))
                .collect(),
        })
        .await
        .expect("batch filed")
        .into_inner()
        .applications;
    let transactions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT change_xid::text FROM outbox")
            .fetch_all(&app.pool)
            .await
            .expect("outbox readable");
    assert_eq!(
        transactions.len(),
        1,
        "the events were written by the batch's transaction"
    );

    let mut received = Vec::new();
    receive_until(&mut consumer, &mut received, |events| events.len() >= 1_000).await;
    let filed_ids: Vec<&str> = filed
        .iter()
        .map(|application| application.id.as_str())
        .collect();
    let event_ids: Vec<&str> = received.iter().map(Received::application_id).collect();
    assert_eq!(
        event_ids, filed_ids,
        "one event per application, in the batch's order"
    );
    assert_eq!(outbox_message_ids(&app.pool).await.len(), 1_000);
}

#[tokio::test]
async fn published_rows_are_pruned_after_the_retention() {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let first = spawn_app_publishing_to(&broker).await;
    for number in 0..3 {
        create(&mut first.applicant("alice"), &format!("Старая {number}")).await;
    }
    let mut stats = first.relay_stats.clone().expect("relay");
    wait_for_relay(&mut stats, |stats| stats.published == 3).await;
    assert_eq!(stats.borrow().pruned, 0, "kept for the retention");
    // A relay that keeps nothing prunes what was published when it takes over.
    let second = spawn_replica_of(&first, |settings| {
        let mut relay = test_relay_settings(broker.settings());
        relay.retention = Duration::ZERO;
        settings.events = Some(relay);
    })
    .await;
    first.stop().await;
    let mut stats = second.relay_stats.clone().expect("relay");
    wait_for_relay(&mut stats, |stats| stats.pruned == 3).await;
    assert!(outbox_message_ids(&second.pool).await.is_empty());
}
