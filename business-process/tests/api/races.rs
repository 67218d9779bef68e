//! Races application-service decides (it is the only writer of status), and two
//! business-process replicas sharing the work.

use std::collections::HashSet;

use business_process::domain::ProcessState;
use uuid::Uuid;
use zayavki_proto::{
    applications::v1::CancelApplicationRequest,
    process::v1::{self as process, Decision},
};

use crate::{
    helpers::{TestSystem, spawn_system, spawn_system_with},
    messages::{deliver, stored_events},
};

async fn cancel(system: &TestSystem, applicant: &str, id: Uuid) -> Result<(), tonic::Status> {
    system
        .applicant(applicant)
        .cancel_application(CancelApplicationRequest {
            id: id.to_string(),
            reason: Some("передумал".to_owned()),
        })
        .await
        .map(|_| ())
}

async fn approve(system: &TestSystem, id: Uuid) {
    system
        .operator()
        .decide_application(process::DecideApplicationRequest {
            application_id: id.to_string(),
            decision: Decision::Approve.into(),
            comment: String::new(),
            request_id: String::new(),
        })
        .await
        .expect("decided");
}

#[tokio::test]
async fn a_cancel_committed_before_the_completion_ends_the_process_cancelled_with_the_budget_whole()
{
    // application-service publishes nothing itself: the test decides which events arrive.
    let system = spawn_system_with(|applications| applications.events = None, |_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("fedor", "Проектор", "5000.00").await;
    let events = stored_events(&system, id).await;
    deliver(&system, events[0].0, &events[0].1).await;
    watcher.wait_for(id, ProcessState::AwaitingDecision).await;
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RESERVED")
    );

    // The applicant cancels; business-process has not heard of it when the operator approves.
    cancel(&system, "fedor", id).await.expect("cancelled");
    approve(&system, id).await;

    watcher.wait_for(id, ProcessState::Cancelled).await;
    assert_eq!(system.application_status(id).await, "CANCELLED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RELEASED")
    );
    assert_eq!(system.step_count(id, "lifecycle.refused").await, 1);
    assert_eq!(system.step_count(id, "application.completed").await, 0);
    let budget: (String, String) = sqlx::query_as(
        "SELECT coalesce(sum(amount_minor) FILTER (WHERE state = 'RESERVED'), 0)::text, \
                coalesce(sum(amount_minor) FILTER (WHERE state = 'COMMITTED'), 0)::text \
         FROM reservations WHERE applicant = 'fedor'",
    )
    .fetch_one(&system.process_pool)
    .await
    .expect("reservations readable");
    assert_eq!(
        budget,
        ("0".to_owned(), "0".to_owned()),
        "the budget is whole"
    );
    system.assert_budget_ledger_kept().await;

    // The cancellation's own event arriving late changes nothing.
    let events = stored_events(&system, id).await;
    let cancelled = events.last().expect("the cancellation's event");
    deliver(&system, cancelled.0, &cancelled.1).await;
    let marker = system.file("fedor", "Маркер", "1.00").await;
    let marker_events = stored_events(&system, marker).await;
    deliver(&system, marker_events[0].0, &marker_events[0].1).await;
    watcher.wait_for(marker, ProcessState::Completed).await;
    assert_eq!(
        system.process(id).await.state(),
        process::ProcessState::Cancelled
    );
    assert_eq!(system.step_count(id, "process.cancelled").await, 1);
}

#[tokio::test]
async fn a_cancel_that_comes_after_the_completion_is_refused_and_the_process_stays_completed() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("galina", "Бумага", "300.00").await;
    watcher.wait_for(id, ProcessState::Completed).await;

    let refused = cancel(&system, "galina", id)
        .await
        .expect_err("a completed application cannot be cancelled");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    let marker = system.file("galina", "Маркер", "1.00").await;
    watcher.wait_for(marker, ProcessState::Completed).await;
    assert_eq!(
        system.process(id).await.state(),
        process::ProcessState::Completed
    );
    assert_eq!(system.application_status(id).await, "COMPLETED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("COMMITTED")
    );
}

#[tokio::test]
async fn with_two_replicas_the_standby_takes_over_and_every_process_finishes_once() {
    const APPLICATIONS: usize = 30;
    let mut system = spawn_system(|_| {}).await;
    system.start_replica().await;
    let mut watcher = system.watch_processes().await;
    let mut filed = Vec::new();
    for number in 0..APPLICATIONS / 2 {
        filed.push(
            system
                .file("igor", &format!("Лампа {number}"), "10.00")
                .await,
        );
    }
    watcher.wait_for_count(ProcessState::Completed, 1).await;
    // The first replica dies mid-work; the standby becomes the active consumer.
    system.kill_process_service();
    for number in APPLICATIONS / 2..APPLICATIONS {
        filed.push(
            system
                .file("igor", &format!("Лампа {number}"), "10.00")
                .await,
        );
    }
    watcher
        .wait_for_count(ProcessState::Completed, APPLICATIONS as i64)
        .await;

    let distinct: HashSet<Uuid> = filed.iter().copied().collect();
    assert_eq!(distinct.len(), APPLICATIONS);
    for id in &filed {
        for step in [
            "processing.started",
            "budget.reserved",
            "application.completed",
        ] {
            assert_eq!(system.step_count(*id, step).await, 1, "{step} of {id}");
        }
        assert_eq!(system.application_status(*id).await, "COMPLETED");
    }
}
