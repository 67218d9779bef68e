//! Each kind of application ends in the right state with the right history, budget and
//! notifications, against the real application-service, PostgreSQL and RabbitMQ.

use std::time::Duration;

use business_process::domain::ProcessState;
use zayavki_identity::Role;
use zayavki_proto::process::v1::{self as process, Decision};

use crate::helpers::spawn_system;

fn steps(process: &process::Process) -> Vec<&str> {
    process
        .steps
        .iter()
        .map(|step| step.step.as_str())
        .collect()
}

#[tokio::test]
async fn a_small_application_is_approved_at_once_and_its_purchase_report_requested() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("alice", "Ложки чайные", "426.00").await;
    watcher.wait_for(id, ProcessState::Completed).await;

    let completed = system.process(id).await;
    assert_eq!(
        steps(&completed),
        [
            "application.created",
            "processing.started",
            "budget.reserved",
            "approved.automatically",
            "application.completed",
            "report.requested",
        ]
    );
    assert_eq!(system.application_status(id).await, "COMPLETED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("COMMITTED")
    );
    let reservation = completed.reservation.expect("a reservation");
    assert_eq!(reservation.amount, "426.00");
    assert!(completed.purchase_report_id.is_some());
    let job = system.next_report_job().await;
    assert_eq!(job["kind"], "PURCHASE");
    assert_eq!(job["applicationId"], id.to_string());
    assert_eq!(job["owner"], "alice");
    assert_eq!(job["format"], "CSV");
    assert_eq!(
        job["reportId"].as_str(),
        completed.purchase_report_id.as_deref()
    );
    let job_steps: Vec<&str> = job["history"]
        .as_array()
        .expect("a history")
        .iter()
        .filter_map(|step| step["step"].as_str())
        .collect();
    assert_eq!(
        job_steps,
        [
            "application.created",
            "processing.started",
            "budget.reserved",
            "approved.automatically",
            "application.completed",
        ],
        "the job carries the history up to the completion"
    );
    system.assert_budget_ledger_kept().await;
    let notifications = system.notifier.wait_for_accepted(1).await;
    assert_eq!(notifications[0].recipient, "alice");
    assert_eq!(notifications[0].application_id, Some(id));
}

#[tokio::test]
async fn an_operator_approves_a_large_application() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("bob", "Ноутбук", "1500.00").await;
    watcher.wait_for(id, ProcessState::AwaitingDecision).await;
    let waiting = system.process(id).await;
    assert!(waiting.decision_due_at.is_some());
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RESERVED")
    );

    let listed = system
        .operator()
        .list_processes(process::ListProcessesRequest {
            state: vec![process::ProcessState::AwaitingDecision.into()],
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.processes.len(), 1);

    system
        .operator()
        .decide_application(process::DecideApplicationRequest {
            application_id: id.to_string(),
            decision: Decision::Approve.into(),
            comment: "нужен для работы".to_owned(),
            request_id: "decision-1".to_owned(),
        })
        .await
        .expect("decided");
    watcher.wait_for(id, ProcessState::Completed).await;
    assert_eq!(system.application_status(id).await, "COMPLETED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("COMMITTED")
    );
    assert_eq!(system.step_count(id, "decision.approved").await, 1);

    // Deciding again is refused: it no longer waits.
    let refused = system
        .operator()
        .decide_application(process::DecideApplicationRequest {
            application_id: id.to_string(),
            decision: Decision::Reject.into(),
            comment: String::new(),
            request_id: String::new(),
        })
        .await
        .expect_err("no longer waiting");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn an_operator_rejects_a_large_application_and_the_budget_is_released() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("bob", "Кресло", "2500.00").await;
    watcher.wait_for(id, ProcessState::AwaitingDecision).await;
    system
        .operator()
        .decide_application(process::DecideApplicationRequest {
            application_id: id.to_string(),
            decision: Decision::Reject.into(),
            comment: "есть на складе".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("decided");
    watcher.wait_for(id, ProcessState::Rejected).await;
    assert_eq!(system.application_status(id).await, "REJECTED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RELEASED")
    );
    let rejected = system.process(id).await;
    assert_eq!(rejected.reason.as_deref(), Some("есть на складе"));
    let rejection: Option<String> =
        sqlx::query_scalar("SELECT rejection_reason FROM applications WHERE id = $1")
            .bind(id)
            .fetch_one(&system.applications_pool)
            .await
            .expect("application");
    assert_eq!(rejection.as_deref(), Some("есть на складе"));
    let notifications = system.notifier.wait_for_accepted(1).await;
    assert!(notifications[0].body.contains("отклонена"));
    system.assert_budget_ledger_kept().await;
}

#[tokio::test]
async fn an_application_over_budget_is_rejected_with_the_reason() {
    let system = spawn_system(|settings| {
        settings.default_monthly_budget =
            zayavki_common::money::Money::parse_amount("1000.00").expect("amount");
    })
    .await;
    let mut watcher = system.watch_processes().await;
    let first = system.file("carol", "Бумага", "700.00").await;
    watcher.wait_for(first, ProcessState::Completed).await;
    let second = system.file("carol", "Ещё бумага", "400.00").await;
    watcher.wait_for(second, ProcessState::Rejected).await;

    assert_eq!(system.application_status(second).await, "REJECTED");
    assert_eq!(system.reservation_state(second).await, None);
    let rejected = system.process(second).await;
    assert!(
        rejected
            .reason
            .as_deref()
            .is_some_and(|reason| reason.starts_with("over budget")),
        "{:?}",
        rejected.reason
    );
    let budget = system
        .process_client("carol", &[Role::Applicant])
        .get_budget(process::GetBudgetRequest {
            applicant: String::new(),
            month: String::new(),
        })
        .await
        .expect("own budget")
        .into_inner();
    assert_eq!(budget.committed, "700.00");
    assert_eq!(budget.available, "300.00");

    // What is left fits exactly.
    let third = system.file("carol", "Скрепки", "300.00").await;
    watcher.wait_for(third, ProcessState::Completed).await;
    system.assert_budget_ledger_kept().await;
}

#[tokio::test]
async fn an_application_nobody_decides_is_rejected_at_the_deadline() {
    let system = spawn_system(|settings| {
        settings.decision_timeout = Duration::from_millis(300);
    })
    .await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("dan", "Проектор", "5000.00").await;
    watcher.wait_for(id, ProcessState::Rejected).await;
    assert_eq!(system.application_status(id).await, "REJECTED");
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RELEASED")
    );
    assert_eq!(system.step_count(id, "decision.deadline_passed").await, 1);
}

#[tokio::test]
async fn cancelling_while_it_waits_releases_the_budget() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    let id = system.file("erin", "Стол", "3000.00").await;
    watcher.wait_for(id, ProcessState::AwaitingDecision).await;
    system
        .applicant("erin")
        .cancel_application(zayavki_proto::applications::v1::CancelApplicationRequest {
            id: id.to_string(),
            reason: Some("передумала".to_owned()),
        })
        .await
        .expect("cancelled");
    watcher.wait_for(id, ProcessState::Cancelled).await;
    assert_eq!(
        system.reservation_state(id).await.as_deref(),
        Some("RELEASED")
    );
    assert_eq!(system.step_count(id, "application.cancelled").await, 1);
    system.assert_budget_ledger_kept().await;
    let timer_fired: Option<bool> = sqlx::query_scalar(
        "SELECT fired_at IS NOT NULL FROM timers WHERE application_id = $1 AND cancelled_at IS NULL",
    )
    .bind(id)
    .fetch_optional(&system.process_pool)
    .await
    .expect("timers");
    assert_eq!(timer_fired, None, "the deadline was dropped");
}
