//! The WebSocket push, through a real client against replicas on one database: what a user
//! receives and what not, replay after `lastEventId`, resets, replicas hearing each other,
//! slow and silent clients, and application status changes from RabbitMQ.

mod broker;
mod client;
mod log;
mod replica;

use std::time::Duration;

use lapin::{BasicProperties, types::ShortString};
use report_service::event_log::{EventLogSettings, pruning};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode};
use uuid::Uuid;
use zayavki_common::amqp::topology;
use zayavki_identity::Role;

use self::{
    broker::{next_delivery_with_status, publish_application_event},
    client::{Client, Token},
    log::{append_big_events, append_numbered, first_event_id, numbers},
    replica::Replica,
};
use crate::helpers::{PATIENCE, TestSystem, purchase_job, spawn_without_reports};

fn applicant(system: &TestSystem, subject: &str) -> String {
    system.token(subject, &[Role::Applicant])
}

#[tokio::test]
async fn a_completed_report_reaches_its_owner_with_a_download_link_that_works() {
    let system = spawn_without_reports(|_| {}).await;
    let replica = Replica::start(&system.settings).await;
    let application = system
        .file("user-1", "Paper", &[("Бумага А4", 2, "62.75")])
        .await;
    system.complete(application).await;
    let mut owner = Client::connect(replica.address, &applicant(&system, "user-1"), None).await;

    let job = purchase_job("user-1", application, "CSV");
    system.publish_job(&job).await;
    let completed = loop {
        let event = owner.next_event().await;
        match event["type"].as_str() {
            // The application's own changes arrive too, through RabbitMQ.
            Some("application.status_changed") => continue,
            Some("report.completed") => {}
            Some("report.progress") => {}
            _ => panic!("unexpected {event}"),
        }
        assert_eq!(event["reportId"], job["reportId"], "{event}");
        if event["type"] == "report.completed" {
            break event;
        }
    };
    let download_url = completed["downloadUrl"].as_str().expect("a downloadUrl");
    let download = system
        .http
        .get(format!("http://{}{download_url}", replica.address))
        .send()
        .await
        .expect("report-service answers");

    assert_eq!(completed["format"], "CSV");
    assert!(completed["id"].is_string() && completed["at"].is_string());
    assert!(download_url.starts_with(&format!(
        "/reports/{}/download?",
        job["reportId"].as_str().expect("an id")
    )));
    assert_eq!(download.status(), 200, "a signed link needs no token");
    let size = completed["size"].as_u64().expect("a size");
    let body = download.bytes().await.expect("the file");
    assert_eq!(body.len() as u64, size);
    assert!(String::from_utf8_lossy(&body).contains("Бумага А4"));
}

#[tokio::test]
async fn reconnecting_with_the_last_event_id_replays_exactly_what_was_missed() {
    let system = spawn_without_reports(|_| {}).await;
    let replica = Replica::start(&system.settings).await;
    let token = applicant(&system, "user-1");
    let pool = system.reports_pool.clone();
    let mut first = Client::connect(replica.address, &token, None).await;
    for number in 1..=2 {
        append_numbered(&pool, "user-1", number).await;
    }
    let seen = first.events(2).await;
    first.close().await;

    // While away: two of mine and one of someone else's; then more, during the reconnection.
    append_numbered(&pool, "user-1", 3).await;
    append_numbered(&pool, "user-2", 1_000).await;
    append_numbered(&pool, "user-1", 4).await;
    let writer = tokio::spawn(async move {
        for number in 5..=40 {
            append_numbered(&pool, "user-1", number).await;
        }
    });
    let last_event_id = seen[1]["id"].as_str().expect("an id");
    let mut again = Client::connect(replica.address, &token, Some(last_event_id)).await;
    let caught_up = again.events(38).await;
    writer.await.expect("written");

    assert_eq!(numbers(&seen), [1, 2]);
    assert_eq!(numbers(&caught_up), (3..=40).collect::<Vec<_>>());
    let mut ids: Vec<&str> = caught_up
        .iter()
        .map(|event| event["id"].as_str().expect("an id"))
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 38, "every event has an id of its own");
}

#[tokio::test]
async fn an_event_is_heard_on_every_replica_and_its_id_works_on_any() {
    let system = spawn_without_reports(|_| {}).await;
    let one = Replica::start(&system.settings).await;
    let two = Replica::start(&system.settings).await;
    let token = applicant(&system, "user-1");
    let mut on_one = Client::connect(one.address, &token, None).await;
    let mut on_two = Client::connect(two.address, &token, None).await;

    append_numbered(&system.reports_pool, "user-1", 1).await;
    let heard_on_one = on_one.next_event().await;
    let heard_on_two = on_two.next_event().await;
    on_one.close().await;
    append_numbered(&system.reports_pool, "user-1", 2).await;
    let last_event_id = heard_on_one["id"].as_str().expect("an id");
    let mut moved = Client::connect(two.address, &token, Some(last_event_id)).await;

    let moved_heard = moved.next_event().await;
    let two_heard = on_two.next_event().await;
    let mut leaving = Client::connect(one.address, &token, None).await;
    one.stop().await;
    let left = leaving.until_closed().await;

    assert_eq!(heard_on_one, heard_on_two, "the same event, the same id");
    assert_eq!(numbers(&[moved_heard]), [2]);
    assert_eq!(numbers(&[two_heard]), [2]);
    let frame = left.frame.expect("a close frame from the stopping replica");
    assert_eq!(frame.code, CloseCode::Away);
}

#[tokio::test]
async fn a_socket_gets_only_its_users_events_and_an_operators_gets_all() {
    let system = spawn_without_reports(|_| {}).await;
    let replica = Replica::start(&system.settings).await;
    let mut one = Client::connect(replica.address, &applicant(&system, "user-1"), None).await;
    let mut two = Client::connect(replica.address, &applicant(&system, "user-2"), None).await;
    let operator_token = system.token("operator-1", &[Role::Operator]);
    let mut operator = Client::connect(replica.address, &operator_token, None).await;

    for (number, owner) in [(1, "user-2"), (2, "user-1"), (3, "user-2"), (4, "user-1")] {
        append_numbered(&system.reports_pool, owner, number).await;
    }

    // Events arrive in log order, so another user's would have come before the user's next.
    assert_eq!(numbers(&one.events(2).await), [2, 4]);
    assert_eq!(numbers(&two.events(2).await), [1, 3]);
    assert_eq!(numbers(&operator.events(4).await), [1, 2, 3, 4]);
    let replayed_for_one = {
        let first_id = first_event_id(&system.reports_pool).await;
        let mut again = Client::connect(
            replica.address,
            &applicant(&system, "user-1"),
            Some(&first_id),
        )
        .await;
        append_numbered(&system.reports_pool, "user-1", 5).await;
        again.events(3).await
    };
    assert_eq!(numbers(&replayed_for_one), [2, 4, 5]);
}

#[tokio::test]
async fn a_slow_client_is_dropped_while_a_fast_one_keeps_receiving() {
    const BATCH: u64 = 40;
    const MAX_BATCHES: u64 = 80;
    let system = spawn_without_reports(|settings| {
        settings.websocket.buffer = 32;
        settings.websocket.send_timeout = Duration::from_secs(2);
    })
    .await;
    let mut replica = Replica::start(&system.settings).await;
    let token = applicant(&system, "user-1");
    let mut fast = Client::connect(replica.address, &token, None).await;
    let mut slow = Client::connect_slow(replica.address, &token, 4096).await;
    replica.wait_for_connections(2).await;

    // Big events, so that the slow client's connection fills up soon; until it is dropped.
    let mut appended = 0;
    for _ in 0..MAX_BATCHES {
        append_big_events(&system.reports_pool, appended + 1, BATCH).await;
        appended += BATCH;
        let received = fast.events(BATCH as usize).await;
        assert_eq!(
            numbers(&received),
            ((appended - BATCH + 1)..=appended).collect::<Vec<_>>()
        );
        if *replica.connections.borrow() == 1 {
            break;
        }
    }
    replica.wait_for_connections(1).await;
    append_numbered(&system.reports_pool, "user-1", appended + 1).await;
    let after = fast.next_event().await;
    let slow_got = slow.until_closed().await;

    assert_eq!(
        numbers(&[after]),
        [appended + 1],
        "the fast client keeps receiving"
    );
    assert!(
        (slow_got.events.len() as u64) < appended,
        "the slow client was cut off after {} of {appended} events",
        slow_got.events.len()
    );
    if let Some(frame) = slow_got.frame {
        assert_eq!(frame.code, CloseCode::Policy);
    }
}

#[tokio::test]
async fn a_client_that_falls_behind_is_closed_with_the_reason_and_catches_up_from_the_log() {
    const BATCH: u64 = 50;
    const BATCHES: u64 = 24;
    let system = spawn_without_reports(|settings| {
        // A window of one follower round (50) plus 1: a client stuck for more falls behind.
        settings.event_log.batch_size = BATCH as i64;
        settings.websocket.buffer = 1;
        settings.websocket.send_timeout = PATIENCE;
    })
    .await;
    let mut replica = Replica::start(&system.settings).await;
    let token = applicant(&system, "user-1");
    let mut fast = Client::connect(replica.address, &token, None).await;
    let mut behind = Client::connect_slow(replica.address, &token, 4096).await;
    replica.wait_for_connections(2).await;

    // 1200 events of 8 KiB: far more than the lagging connection's socket buffers hold.
    for batch in 0..BATCHES {
        append_big_events(&system.reports_pool, batch * BATCH + 1, BATCH).await;
        let received = fast.events(BATCH as usize).await;
        let expected: Vec<u64> = (batch * BATCH + 1..=(batch + 1) * BATCH).collect();
        assert_eq!(numbers(&received), expected);
    }
    let total = BATCHES * BATCH;
    let cut_off = behind.until_closed().await;
    let last_event_id = cut_off
        .events
        .last()
        .and_then(|event| event["id"].as_str())
        .expect("some events arrived before the close")
        .to_owned();
    let mut caught_up = Client::connect(replica.address, &token, Some(&last_event_id)).await;
    let received_before = cut_off.events.len() as u64;
    let rest = caught_up.events((total - received_before) as usize).await;

    let frame = cut_off.frame.expect("a close frame with the reason");
    assert_eq!(frame.code, CloseCode::Policy);
    assert!(frame.reason.as_str().contains("too slow"), "{frame:?}");
    assert!(received_before < total, "the client fell behind");
    let in_order: Vec<u64> = (1..=received_before).collect();
    assert_eq!(numbers(&cut_off.events), in_order);
    let missed: Vec<u64> = (received_before + 1..=total).collect();
    assert_eq!(
        numbers(&rest),
        missed,
        "caught up from the log, no gap, no repeat"
    );
}

#[tokio::test]
async fn an_unknown_or_pruned_event_id_gets_a_reset_first() {
    let system = spawn_without_reports(|_| {}).await;
    let replica = Replica::start(&system.settings).await;
    let token = applicant(&system, "user-1");
    let pool = &system.reports_pool;
    let mut first = Client::connect(replica.address, &token, None).await;
    append_numbered(pool, "user-1", 1).await;
    append_numbered(pool, "user-1", 2).await;
    let seen = first.events(2).await;
    first.close().await;

    let mut unknown = Client::connect(replica.address, &token, Some("not-an-event-id")).await;
    let unknown_reset = unknown.next_event().await;
    sqlx::query(
        "UPDATE event_log SET at = now() - interval '25 hours' WHERE body->>'number' = '1'",
    )
    .execute(pool)
    .await
    .expect("aged");
    let pruned = pruning::prune(pool, &EventLogSettings::default())
        .await
        .expect("pruned");
    let first_id = seen[0]["id"].as_str().expect("an id");
    let mut too_old = Client::connect(replica.address, &token, Some(first_id)).await;
    let old_reset = too_old.next_event().await;
    let second_id = seen[1]["id"].as_str().expect("an id");
    let mut kept = Client::connect(replica.address, &token, Some(second_id)).await;
    append_numbered(pool, "user-1", 3).await;

    assert_eq!(unknown_reset["type"], "reset");
    assert_eq!(
        unknown_reset["id"], seen[1]["id"],
        "the end of the log, to go on from"
    );
    assert_eq!(pruned, 1);
    assert_eq!(old_reset["type"], "reset");
    assert!(
        old_reset["reason"]
            .as_str()
            .expect("a reason")
            .contains("no longer kept"),
        "{old_reset}"
    );
    assert_eq!(numbers(&[unknown.next_event().await]), [3]);
    assert_eq!(numbers(&[too_old.next_event().await]), [3]);
    assert_eq!(
        numbers(&[kept.next_event().await]),
        [3],
        "no reset for a kept id"
    );
}

#[tokio::test]
async fn a_status_change_reaches_the_applicants_socket_once_even_if_delivered_twice() {
    let system = spawn_without_reports(|_| {}).await;
    let replica = Replica::start(&system.settings).await;
    let mut applicant_socket =
        Client::connect(replica.address, &applicant(&system, "user-7"), None).await;
    let (connection, channel) = system.broker.channel().await.expect("broker reachable");
    let mut published = system
        .broker
        .subscribe(
            &channel,
            topology::APPLICATIONS_EVENTS,
            "application.status_changed",
        )
        .await
        .expect("a copy of the application events");

    let application = system
        .file("user-7", "Paper", &[("Бумага А4", 2, "62.75")])
        .await;
    system.complete(application).await;
    let changes = applicant_socket.events(2).await;
    let completed = next_delivery_with_status(&mut published, "COMPLETED").await;
    publish_application_event(&channel, &completed.properties, &completed.data).await;
    let mut later: Value = serde_json::from_slice(&completed.data).expect("JSON");
    later["eventId"] = json!(Uuid::now_v7());
    later["version"] = json!(99);
    let later_id = later["eventId"].as_str().expect("an id").to_owned();
    publish_application_event(
        &channel,
        &BasicProperties::default().with_message_id(ShortString::from(later_id)),
        &serde_json::to_vec(&later).expect("JSON"),
    )
    .await;
    let next = applicant_socket.next_event().await;
    connection.close(0, "done".into()).await.ok();

    let statuses: Vec<&str> = changes
        .iter()
        .map(|change| change["status"].as_str().expect("a status"))
        .collect();
    assert_eq!(statuses, ["PROCESSING", "COMPLETED"]);
    for change in &changes {
        assert_eq!(change["type"], "application.status_changed");
        assert_eq!(change["applicationId"], application.to_string());
        assert_eq!(change["title"], "Paper");
    }
    assert_eq!(changes[1]["previousStatus"], "PROCESSING");
    assert_eq!(
        next["version"], 99,
        "the redelivered event was not pushed again: {next}"
    );
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM event_log WHERE body->>'applicationId' = $1")
            .bind(application.to_string())
            .fetch_one(&system.reports_pool)
            .await
            .expect("counted");
    assert_eq!(logged, 3);
}

#[tokio::test]
async fn pings_keep_a_listening_client_and_a_silent_one_is_closed() {
    let system = spawn_without_reports(|settings| {
        settings.websocket.ping_interval = Duration::from_millis(100);
        settings.websocket.idle_timeout = Duration::from_millis(1_500);
    })
    .await;
    let mut replica = Replica::start(&system.settings).await;
    let token = applicant(&system, "user-1");
    let mut listening = Client::connect(replica.address, &token, None).await;
    let mut silent = Client::connect(replica.address, &token, None).await;
    silent.mute();

    // Twenty pings take longer than the idle timeout; the listening client answers each.
    let ((), closed) = tokio::join!(listening.pings(20), silent.until_closed());
    replica.wait_for_connections(1).await;
    append_numbered(&system.reports_pool, "user-1", 1).await;

    let frame = closed.frame.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Normal);
    assert_eq!(frame.reason.as_str(), "idle timeout");
    assert!(closed.pings >= 1, "the silent client was pinged first");
    assert_eq!(numbers(&[listening.next_event().await]), [1]);
}

#[tokio::test]
async fn handshakes_are_authenticated_and_refusals_are_problems() {
    let system = spawn_without_reports(|_| {}).await;
    let replica = Replica::start(&system.settings).await;
    let url = format!("http://{}/ws", replica.address);
    let token = applicant(&system, "user-1");

    let bad_token =
        Client::try_connect(replica.address, Token::Subprotocol("not.a.jwt"), None, None).await;
    let without_token = system.http.get(&url).send().await.expect("an answer");
    let not_an_upgrade = system
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("an answer");
    let twice = system
        .http
        .get(format!("{url}?lastEventId=a&lastEventId=b"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("an answer");
    let mut by_query = Client::try_connect(replica.address, Token::Query(&token), None, None)
        .await
        .expect("a token in the query is accepted");
    append_numbered(&system.reports_pool, "user-1", 1).await;
    let metrics = system
        .http
        .get(format!("http://{}/metrics", replica.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");

    match bad_token {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(other) => panic!("expected a 401, got {other:?}"),
        Ok(_) => panic!("a token that is not a JWT was accepted"),
    }
    for (response, status) in [(without_token, 401), (not_an_upgrade, 400)] {
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(twice.status(), 400);
    let problem: Value = twice.json().await.expect("problem+json");
    assert_eq!(problem["errors"][0]["field"], "lastEventId");
    assert_eq!(numbers(&[by_query.next_event().await]), [1]);
    assert!(
        metrics.contains("zayavki_websocket_connections 1"),
        "one connection open: {metrics}"
    );
}
