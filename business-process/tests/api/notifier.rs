//! Notifications through an outside service that may be down: the client's timeout, retries and
//! breaker against a fake service, the delivery worker against PostgreSQL, and the development
//! sink.

use std::{collections::HashSet, time::Duration};

use axum::http::StatusCode;
use business_process::{
    notifier::{
        BreakerState, NotificationSink, SendError, Transition, sink::ReceivedList, start_delivery,
    },
    storage::notifications,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::notifier_helpers::{
    Behaviour, FakeNotificationService, NotifierDatabase, PATIENCE, next_transition, notification,
    settings_for, wait_for_transition,
};

const CLOSED: BreakerState = BreakerState::Closed;
const HALF_OPEN: BreakerState = BreakerState::HalfOpen;
const OPEN: BreakerState = BreakerState::Open;

#[tokio::test]
async fn the_client_retries_server_errors_and_then_delivers() {
    let fake = FakeNotificationService::start().await;
    let client = settings_for(fake.address()).client().expect("a client");
    fake.fail_next(2);
    let sent = notification(1);

    client
        .send(&sent)
        .await
        .expect("delivered on the third attempt");

    assert_eq!(fake.requests(), 3);
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].id, sent.id);
    assert_eq!(accepted[0].recipient, sent.recipient);
    assert_eq!(accepted[0].application_id, sent.application_id);
}

#[tokio::test]
async fn the_client_gives_up_on_a_service_that_does_not_answer_in_time() {
    let fake = FakeNotificationService::start().await;
    let mut settings = settings_for(fake.address());
    settings.timeout = Duration::from_millis(300);
    let client = settings.client().expect("a client");
    fake.behave(Behaviour::Hang);

    let outcome = client.send(&notification(1)).await;

    assert!(
        matches!(outcome, Err(SendError::TimedOut(timeout)) if timeout == Duration::from_millis(300)),
        "{outcome:?}"
    );
    fake.wait_for_requests(3).await;
    assert!(fake.accepted().is_empty());
}

#[tokio::test]
async fn the_client_reports_refused_connections_as_the_service_being_unavailable() {
    let mut fake = FakeNotificationService::start().await;
    let client = settings_for(fake.address()).client().expect("a client");
    fake.stop_listening().await;

    let outcome = client.send(&notification(1)).await;

    match outcome {
        Err(error @ SendError::Connection(_)) => assert!(error.is_transient()),
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_notification_is_not_retried_and_does_not_open_the_breaker() {
    let fake = FakeNotificationService::start().await;
    let client = settings_for(fake.address()).client().expect("a client");
    fake.behave(Behaviour::Refuse(StatusCode::UNPROCESSABLE_ENTITY));

    for _ in 0..6 {
        let outcome = client.send(&notification(1)).await;
        assert!(
            matches!(&outcome, Err(SendError::Refused { status, .. }) if *status == StatusCode::UNPROCESSABLE_ENTITY),
            "{outcome:?}"
        );
    }

    assert_eq!(fake.requests(), 6, "one request per notification");
    assert_eq!(client.breaker().state(), CLOSED);
}

#[tokio::test]
async fn an_open_breaker_fails_fast_without_calling_the_service() {
    let fake = FakeNotificationService::start().await;
    let client = settings_for(fake.address()).client().expect("a client");
    let mut transitions = client.breaker().subscribe();
    fake.behave(Behaviour::Fail);

    // Three attempts each: the fifth failed attempt opens the breaker.
    for _ in 0..2 {
        assert!(client.send(&notification(1)).await.is_err());
    }
    assert_eq!(
        next_transition(&mut transitions).await,
        Transition {
            from: CLOSED,
            to: OPEN
        }
    );
    let requests_while_closed = fake.requests();
    assert_eq!(requests_while_closed, 5);

    let outcome = client.send(&notification(2)).await;

    assert!(
        matches!(&outcome, Err(SendError::BreakerOpen(rejected)) if rejected.state == OPEN),
        "{outcome:?}"
    );
    assert_eq!(fake.requests(), requests_while_closed);
}

#[tokio::test]
async fn a_send_the_breaker_cuts_short_reports_the_failure_of_the_calls_it_made() {
    let fake = FakeNotificationService::start().await;
    let client = settings_for(fake.address()).client().expect("a client");
    fake.behave(Behaviour::Fail);
    assert!(client.send(&notification(1)).await.is_err());
    assert_eq!(fake.requests(), 3);

    // Its first two calls fail (the second opens the breaker); the third is never made.
    let outcome = client.send(&notification(2)).await;

    assert_eq!(fake.requests(), 5);
    assert!(
        matches!(&outcome, Err(error) if error.is_transient() && !matches!(error, SendError::BreakerOpen(_))),
        "the notification was tried, and failed: {outcome:?}"
    );
}

#[tokio::test]
async fn notifications_queued_while_the_service_is_down_are_delivered_once_when_it_recovers() {
    let database = NotifierDatabase::create().await;
    let mut fake = FakeNotificationService::start().await;
    fake.behave(Behaviour::Fail);
    let shutdown = CancellationToken::new();
    let mut delivery = start_delivery(
        database.pool.clone(),
        settings_for(fake.address()),
        shutdown.clone(),
    )
    .expect("delivery starts");
    let transitions = &mut delivery.breaker_transitions;

    // Down, answering 500: the breaker opens.
    let queued: HashSet<Uuid> = database.enqueue(20).await.into_iter().collect();
    wait_for_transition(
        transitions,
        Transition {
            from: CLOSED,
            to: OPEN,
        },
    )
    .await;

    // Down, never answering: the trials time out and open it again.
    fake.behave(Behaviour::Hang);
    let requests_before_hanging = fake.requests();
    fake.wait_for_requests(requests_before_hanging + 1).await;
    wait_for_transition(
        transitions,
        Transition {
            from: HALF_OPEN,
            to: OPEN,
        },
    )
    .await;

    // Down, refusing connections: the trials fail and open it again.
    fake.stop_listening().await;
    fake.behave(Behaviour::Accept);
    wait_for_transition(
        transitions,
        Transition {
            from: HALF_OPEN,
            to: OPEN,
        },
    )
    .await;
    assert!(
        fake.accepted().is_empty(),
        "nothing was accepted while down"
    );
    assert_eq!(delivery.status.borrow().undelivered, 20);

    // Back: three trials succeed (trials that began before it came back may still fail first),
    // it closes, and the queue drains.
    fake.resume_listening().await;
    wait_for_transition(
        transitions,
        Transition {
            from: HALF_OPEN,
            to: CLOSED,
        },
    )
    .await;
    let drained = tokio::time::timeout(
        PATIENCE,
        delivery
            .status
            .wait_for(|status| status.undelivered == 0 && status.breaker == CLOSED),
    )
    .await
    .expect("the queue drains in time")
    .map(|status| status.clone())
    .expect("delivery runs");

    let accepted = fake.accepted();
    let accepted_ids: HashSet<Uuid> = accepted.iter().map(|received| received.id).collect();
    assert_eq!(
        accepted.len(),
        20,
        "each notification accepted once ({} repeats deduplicated)",
        fake.repeats()
    );
    assert_eq!(accepted_ids, queued);
    assert!(!drained.is_degraded());
    assert!(database.undelivered_ids().await.is_empty());
    assert_eq!(
        notifications::backlog(&database.pool)
            .await
            .expect("backlog")
            .undelivered,
        0
    );
    shutdown.cancel();
    delivery.task.await.expect("delivery stops cleanly");
}

#[tokio::test]
async fn a_notification_queued_while_the_worker_sleeps_is_delivered_at_commit() {
    let database = NotifierDatabase::create().await;
    let fake = FakeNotificationService::start().await;
    let shutdown = CancellationToken::new();
    let settings = settings_for(fake.address());
    assert!(settings.delivery.idle_check > PATIENCE);
    let delivery =
        start_delivery(database.pool.clone(), settings, shutdown.clone()).expect("delivery starts");
    database.enqueue(1).await;
    fake.wait_for_requests(1).await;

    // Nothing is due now: the worker sleeps until notified.
    let second = database.enqueue(1).await;

    fake.wait_for_requests(2).await;
    assert_eq!(fake.accepted()[1].id, second[0]);
    shutdown.cancel();
    delivery.task.await.expect("delivery stops cleanly");
}

#[tokio::test]
async fn a_notification_the_service_refuses_is_kept_for_an_operator_and_not_sent_again() {
    let database = NotifierDatabase::create().await;
    let fake = FakeNotificationService::start().await;
    fake.behave(Behaviour::Refuse(StatusCode::BAD_REQUEST));
    let shutdown = CancellationToken::new();
    let mut delivery = start_delivery(
        database.pool.clone(),
        settings_for(fake.address()),
        shutdown.clone(),
    )
    .expect("delivery starts");

    let refused = database.enqueue(1).await;

    let status = tokio::time::timeout(
        PATIENCE,
        delivery.status.wait_for(|status| status.refused == 1),
    )
    .await
    .expect("the refusal is recorded in time")
    .map(|status| status.clone())
    .expect("delivery runs");
    assert_eq!(status.undelivered, 0);
    assert_eq!(status.breaker, CLOSED);
    assert_eq!(fake.requests(), 1);
    let last_error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM notifications WHERE id = $1")
            .bind(refused[0])
            .fetch_one(&database.pool)
            .await
            .expect("the row");
    assert!(
        last_error
            .as_deref()
            .is_some_and(|error| error.contains("400")),
        "{last_error:?}"
    );
    shutdown.cancel();
    delivery.task.await.expect("delivery stops cleanly");
}

#[tokio::test]
async fn two_workers_claiming_at_once_never_get_the_same_notification() {
    let database = NotifierDatabase::create().await;
    let queued: HashSet<Uuid> = database.enqueue(40).await.into_iter().collect();
    let lease = Duration::from_secs(60);

    let (first, second) = tokio::join!(
        notifications::claim_due(&database.pool, 40, lease),
        notifications::claim_due(&database.pool, 40, lease),
    );

    let first: HashSet<Uuid> = first
        .expect("first claim")
        .into_iter()
        .map(|claimed| claimed.notification.id)
        .collect();
    let second: HashSet<Uuid> = second
        .expect("second claim")
        .into_iter()
        .map(|claimed| claimed.notification.id)
        .collect();
    assert!(first.is_disjoint(&second));
    assert_eq!(&first | &second, queued);
    let third = notifications::claim_due(&database.pool, 40, lease)
        .await
        .expect("third claim");
    assert!(
        third.is_empty(),
        "claimed rows are not due until their lease ends"
    );
}

#[tokio::test]
async fn queuing_the_same_notification_twice_keeps_one() {
    let database = NotifierDatabase::create().await;
    let queued = notification(1);

    for _ in 0..2 {
        let mut transaction = database.pool.begin().await.expect("a transaction");
        notifications::enqueue(&mut transaction, &queued)
            .await
            .expect("queued");
        transaction.commit().await.expect("commit");
    }

    assert_eq!(database.undelivered_ids().await, vec![queued.id]);
}

#[tokio::test]
async fn the_sink_lists_each_notification_once_and_counts_repeats() {
    let sink = NotificationSink::bind("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the sink binds");
    let address = sink.address();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(sink.run_until_stopped(shutdown.clone()));
    let client = settings_for(address).client().expect("a client");
    let first = notification(1);
    let second = notification(2);

    client.send(&first).await.expect("accepted");
    client.send(&first).await.expect("accepted again");
    client.send(&second).await.expect("accepted");

    let listed: ReceivedList = reqwest::get(format!("http://{address}/notifications"))
        .await
        .expect("the sink answers")
        .json()
        .await
        .expect("a JSON list");
    let ids: Vec<Uuid> = listed
        .notifications
        .iter()
        .map(|listed| listed.id)
        .collect();
    assert_eq!(ids, vec![first.id, second.id]);
    assert_eq!(listed.received, 3);
    assert_eq!(listed.repeats, 1);
    assert_eq!(listed.notifications[0].subject, first.subject);
    shutdown.cancel();
    server
        .await
        .expect("the sink stops")
        .expect("the sink stops cleanly");
}
