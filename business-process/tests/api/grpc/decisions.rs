//! Operators' decisions: who may decide, what a decision changes, and idempotency keys.

use business_process::{domain::ProcessState, storage::timers};
use chrono::{Duration, Utc};
use tonic::Code;
use uuid::Uuid;
use zayavki_identity::Role;
use zayavki_proto::process::v1 as pb;

use super::{ApiServer, refused_with, spawn_api};

fn decide(
    application_id: Uuid,
    decision: pb::Decision,
    comment: &str,
    request_id: &str,
) -> pb::DecideApplicationRequest {
    pb::DecideApplicationRequest {
        application_id: application_id.to_string(),
        decision: decision as i32,
        comment: comment.to_owned(),
        request_id: request_id.to_owned(),
    }
}

/// A process waiting for a decision, with its deadline set.
async fn waiting(api: &ApiServer, applicant: &str) -> Uuid {
    let id = api
        .seed(applicant, ProcessState::AwaitingDecision, "5000.00")
        .await;
    let mut connection = api.pool.acquire().await.expect("connection");
    timers::schedule(
        &mut connection,
        id,
        timers::DECISION_DEADLINE,
        Utc::now() + Duration::hours(48),
    )
    .await
    .expect("deadline set");
    id
}

async fn steps_named(api: &ApiServer, id: Uuid, step: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar::<_, serde_json::Value>(
        "SELECT details FROM process_steps WHERE application_id = $1 AND step = $2 ORDER BY id",
    )
    .bind(id)
    .bind(step)
    .fetch_all(&api.pool)
    .await
    .expect("steps")
}

#[tokio::test]
async fn only_operators_decide() {
    let api = spawn_api().await;
    let id = waiting(&api, "alice").await;
    for mut caller in [
        api.applicant("alice"),
        api.service(),
        api.client("alice", &[Role::Applicant, Role::Service]),
    ] {
        let refused = caller
            .decide_application(decide(id, pb::Decision::Approve, "", ""))
            .await
            .expect_err("not an operator");
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let state: String = sqlx::query_scalar("SELECT state FROM processes WHERE application_id = $1")
        .bind(id)
        .fetch_one(&api.pool)
        .await
        .expect("state");
    assert_eq!(state, "AWAITING_DECISION");
}

#[tokio::test]
async fn an_operator_approves_a_waiting_application_and_its_deadline_is_dropped() {
    let api = spawn_api().await;
    let id = waiting(&api, "alice").await;

    let approved = api
        .operator("olga")
        .decide_application(decide(id, pb::Decision::Approve, "Согласовано", ""))
        .await
        .expect("approved")
        .into_inner();

    assert_eq!(approved.state(), pb::ProcessState::Approving);
    assert_eq!(approved.version, 2);
    assert_eq!(approved.reason, None);
    let last = approved
        .steps
        .last()
        .expect("the decision is in the history");
    assert_eq!(last.step, "decision.approved");
    let details: serde_json::Value = serde_json::from_str(&last.details_json).expect("JSON");
    assert_eq!(details["operator"], "olga");
    assert_eq!(details["comment"], "Согласовано");
    let pending_deadlines = api
        .count(
            "SELECT count(*) FROM timers WHERE application_id = $1 AND cancelled_at IS NULL",
            id,
        )
        .await;
    assert_eq!(pending_deadlines, 0);
    let keys = api
        .count(
            "SELECT count(*) FROM decisions WHERE application_id = $1",
            id,
        )
        .await;
    assert_eq!(keys, 0, "no request_id, nothing to replay");
}

#[tokio::test]
async fn a_rejection_gives_the_comment_as_its_reason_or_says_an_operator_rejected() {
    let api = spawn_api().await;
    let commented = waiting(&api, "alice").await;
    let silent = waiting(&api, "bob").await;
    let mut operator = api.operator("olga");

    let with_comment = operator
        .decide_application(decide(
            commented,
            pb::Decision::Reject,
            "Слишком дорого.\nНайдите поставщика дешевле",
            "",
        ))
        .await
        .expect("rejected")
        .into_inner();
    let without = operator
        .decide_application(decide(silent, pb::Decision::Reject, "  ", ""))
        .await
        .expect("rejected")
        .into_inner();

    assert_eq!(with_comment.state(), pb::ProcessState::Rejecting);
    assert_eq!(
        with_comment.reason.as_deref(),
        Some("Слишком дорого.\nНайдите поставщика дешевле")
    );
    assert_eq!(without.state(), pb::ProcessState::Rejecting);
    assert_eq!(without.reason.as_deref(), Some("rejected by an operator"));
    let recorded = steps_named(&api, silent, "decision.rejected").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["operator"], "olga");
    assert_eq!(recorded[0]["reason"], "rejected by an operator");
}

#[tokio::test]
async fn deciding_what_no_longer_waits_or_does_not_exist_is_refused() {
    let api = spawn_api().await;
    let completed = api.seed("alice", ProcessState::Completed, "5000.00").await;
    let id = waiting(&api, "alice").await;
    let mut operator = api.operator("olga");

    let late = operator
        .decide_application(decide(completed, pb::Decision::Approve, "", ""))
        .await
        .expect_err("already completed");
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("COMPLETED"), "{}", late.message());

    let unknown = operator
        .decide_application(decide(Uuid::now_v7(), pb::Decision::Approve, "", ""))
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);

    let wrong = operator
        .decide_application(pb::DecideApplicationRequest {
            application_id: "nope".to_owned(),
            decision: pb::Decision::Unspecified as i32,
            comment: "я".repeat(1_001),
            request_id: "has space".to_owned(),
        })
        .await
        .expect_err("every field wrong");
    assert_eq!(
        refused_with(&wrong, Code::InvalidArgument),
        ["application_id", "decision", "comment", "request_id"]
    );

    operator
        .decide_application(decide(id, pb::Decision::Reject, "", ""))
        .await
        .expect("rejected");
    let again = operator
        .decide_application(decide(id, pb::Decision::Approve, "", ""))
        .await
        .expect_err("decided already");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("REJECTING"), "{}", again.message());
}

#[tokio::test]
async fn a_repeated_request_id_replays_and_one_reused_for_another_decision_is_refused() {
    let api = spawn_api().await;
    let first = waiting(&api, "alice").await;
    let second = waiting(&api, "bob").await;
    let mut olga = api.operator("olga");

    let decided = olga
        .decide_application(decide(first, pb::Decision::Approve, "ok", "decision-1"))
        .await
        .expect("approved")
        .into_inner();
    let replayed = olga
        .decide_application(decide(first, pb::Decision::Approve, "ok", "decision-1"))
        .await
        .expect("replayed, not refused as decided")
        .into_inner();

    assert_eq!(replayed.state(), pb::ProcessState::Approving);
    assert_eq!(replayed.version, decided.version);
    assert_eq!(steps_named(&api, first, "decision.approved").await.len(), 1);

    let other_decision = olga
        .decide_application(decide(first, pb::Decision::Reject, "", "decision-1"))
        .await
        .expect_err("same key, other decision");
    let other_application = olga
        .decide_application(decide(second, pb::Decision::Approve, "", "decision-1"))
        .await
        .expect_err("same key, other application");
    for refusal in [other_decision, other_application] {
        assert_eq!(refusal.code(), Code::AlreadyExists, "{refusal:?}");
    }
    let untouched = api.count(
        "SELECT count(*) FROM processes WHERE application_id = $1 AND state = 'AWAITING_DECISION'",
        second,
    );
    assert_eq!(untouched.await, 1);

    let keys_are_per_operator = api
        .operator("oleg")
        .decide_application(decide(second, pb::Decision::Reject, "", "decision-1"))
        .await
        .expect("another operator's key")
        .into_inner();
    assert_eq!(keys_are_per_operator.state(), pb::ProcessState::Rejecting);
}
