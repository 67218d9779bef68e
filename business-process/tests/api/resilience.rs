//! Duplicated and reordered events, a service stopped at any point, deadlines that fall due
//! while it is down, a notification service that is away: every process still ends once, in the
//! right state.

use std::collections::HashSet;

use business_process::domain::ProcessState;
use uuid::Uuid;

use crate::{
    helpers::{TestSystem, spawn_system, spawn_system_with},
    messages::{deliver, stored_events},
};

async fn count(system: &TestSystem, statement: &str) -> i64 {
    sqlx::query_scalar(statement)
        .fetch_one(&system.process_pool)
        .await
        .expect("countable")
}

#[tokio::test]
async fn the_same_event_delivered_twice_has_one_effect() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("alice", "Скрепки", "12.00").await;
    watcher.wait_for(id, ProcessState::Completed).await;

    let events = stored_events(&system, id).await;
    for (message_id, body) in &events {
        deliver(&system, *message_id, body).await;
    }
    // The same creation under an event id of its own (a publisher's copy, not a redelivery):
    // the application has its process already.
    let (_, created) = &events[0];
    let mut copy: serde_json::Value = serde_json::from_str(created).expect("a JSON event");
    assert_eq!(copy["type"], "application.created");
    let copy_id = Uuid::now_v7();
    copy["eventId"] = serde_json::json!(copy_id);
    deliver(&system, copy_id, &copy.to_string()).await;
    // The queue has one active consumer and keeps its order: once a later application is
    // through, the repeats before it were handled.
    let marker = system.file("alice", "Кнопки", "10.00").await;
    watcher.wait_for(marker, ProcessState::Completed).await;

    for step in [
        "application.created",
        "processing.started",
        "application.completed",
    ] {
        assert_eq!(system.step_count(id, step).await, 1, "{step}");
    }
    assert_eq!(
        count(&system, "SELECT count(*) FROM report_requests").await,
        2,
        "one purchase report per application"
    );
}

#[tokio::test]
async fn events_delivered_out_of_order_still_end_correctly() {
    // application-service publishes nothing itself here: the test delivers its events.
    let system = spawn_system_with(|applications| applications.events = None, |_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("bob", "Стулья", "300.00").await;
    system
        .applicant("bob")
        .cancel_application(zayavki_proto::applications::v1::CancelApplicationRequest {
            id: id.to_string(),
            reason: None,
        })
        .await
        .expect("cancelled");
    let events = stored_events(&system, id).await;
    assert_eq!(events.len(), 2, "created and cancelled");
    for (message_id, body) in events.iter().rev() {
        deliver(&system, *message_id, body).await;
    }
    watcher.wait_for(id, ProcessState::Cancelled).await;
    // The cancellation ends the process, each step at most once: the deferred event takes
    // effect right after its predecessor, or StartProcessing comes first and application-service
    // refuses it because the application is cancelled (the deferred event then finds the process
    // cancelling, or already over).
    let cancelled = system.step_count(id, "application.cancelled").await;
    let refused = system.step_count(id, "lifecycle.refused").await;
    assert!(
        cancelled <= 1 && refused <= 1 && cancelled + refused >= 1,
        "cancelled {cancelled} times, refused {refused} times"
    );
    assert_eq!(system.step_count(id, "processing.started").await, 0);
    assert_eq!(system.application_status(id).await, "CANCELLED");
    assert_eq!(system.reservation_state(id).await, None);
}

#[tokio::test]
async fn a_process_service_stopped_at_any_point_finishes_every_process_once() {
    const APPLICATIONS: usize = 40;
    let mut system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let mut filed = Vec::new();
    for number in 0..APPLICATIONS {
        filed.push(
            system
                .file("carol", &format!("Заявка {number}"), "50.00")
                .await,
        );
    }
    // Killed again and again while it works, each time right after it finished one more.
    for round in 1..=4_i64 {
        watcher
            .wait_for_count(ProcessState::Completed, round * 3)
            .await;
        system.kill_process_service();
        system.start_process_service().await;
    }
    watcher
        .wait_for_count(ProcessState::Completed, APPLICATIONS as i64)
        .await;

    for id in &filed {
        for step in [
            "processing.started",
            "budget.reserved",
            "application.completed",
        ] {
            assert_eq!(system.step_count(*id, step).await, 1, "{step} of {id}");
        }
        assert_eq!(
            system.reservation_state(*id).await.as_deref(),
            Some("COMMITTED")
        );
        assert_eq!(system.application_status(*id).await, "COMPLETED");
    }
    assert_eq!(
        count(
            &system,
            "SELECT count(DISTINCT application_id) FROM report_requests"
        )
        .await,
        APPLICATIONS as i64
    );
    assert_eq!(
        count(&system, "SELECT count(*) FROM report_requests").await,
        APPLICATIONS as i64,
        "no purchase report requested twice"
    );
    let accepted = system.notifier.wait_for_accepted(APPLICATIONS).await;
    let ids: HashSet<Uuid> = accepted.iter().filter_map(|n| n.application_id).collect();
    assert_eq!(ids.len(), APPLICATIONS, "one notification per application");
}

#[tokio::test]
async fn a_deadline_due_while_the_service_is_down_fires_once_after_it_starts() {
    let mut system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("dan", "Сервер", "90000.00").await;
    watcher.wait_for(id, ProcessState::AwaitingDecision).await;
    system.stop_process_service().await;
    // The deadline passes while nobody runs.
    sqlx::query("UPDATE timers SET due_at = now() - interval '1 second' WHERE application_id = $1")
        .bind(id)
        .execute(&system.process_pool)
        .await
        .expect("timer moved");
    system.start_process_service().await;
    watcher.wait_for(id, ProcessState::Rejected).await;
    assert_eq!(system.step_count(id, "decision.deadline_passed").await, 1);
    assert_eq!(system.application_status(id).await, "REJECTED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RELEASED")
    );
}

#[tokio::test]
async fn processes_complete_while_the_notification_service_is_down_and_it_hears_of_each_once() {
    const APPLICATIONS: usize = 10;
    let mut system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    system.notifier.stop_listening().await;
    let mut filed = Vec::new();
    for number in 0..APPLICATIONS {
        filed.push(
            system
                .file("erin", &format!("Папка {number}"), "20.00")
                .await,
        );
    }
    watcher
        .wait_for_count(ProcessState::Completed, APPLICATIONS as i64)
        .await;
    assert!(system.notifier.accepted().is_empty());

    system.notifier.resume_listening().await;
    let accepted = system.notifier.wait_for_accepted(APPLICATIONS).await;
    let ids: HashSet<Uuid> = accepted
        .iter()
        .map(|notification| notification.id)
        .collect();
    assert_eq!(ids.len(), APPLICATIONS, "each notification accepted once");
    let about: HashSet<Uuid> = accepted.iter().filter_map(|n| n.application_id).collect();
    assert_eq!(about, filed.into_iter().collect::<HashSet<_>>());
    println!(
        "notifications: {} accepted, {} repeats, {} calls",
        accepted.len(),
        system.notifier.repeats(),
        system.notifier.requests()
    );
}
