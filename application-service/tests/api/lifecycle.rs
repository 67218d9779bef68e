use tonic::Code;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, create, spawn_app};

fn transition(id: &str) -> pb::TransitionRequest {
    pb::TransitionRequest {
        id: id.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_application_moves_new_processing_completed() {
    let app = spawn_app().await;
    let created = create(&mut app.applicant("alice"), "Мониторы").await;
    let mut lifecycle = app.lifecycle();

    let processing = lifecycle
        .start_processing(transition(&created.id))
        .await
        .expect("started")
        .into_inner();
    assert_eq!(processing.status, pb::ApplicationStatus::Processing as i32);
    assert_eq!(processing.version, 2);

    let completed = lifecycle
        .complete_application(transition(&created.id))
        .await
        .expect("completed")
        .into_inner();
    assert_eq!(completed.status, pb::ApplicationStatus::Completed as i32);
    assert_eq!(completed.version, 3);
}

#[tokio::test]
async fn rejection_keeps_its_reason() {
    let app = spawn_app().await;
    let created = create(&mut app.applicant("alice"), "Мониторы").await;
    let mut lifecycle = app.lifecycle();
    lifecycle
        .start_processing(transition(&created.id))
        .await
        .expect("started");

    let rejected = lifecycle
        .reject_application(pb::TransitionRequest {
            reason: Some("Нет бюджета".to_owned()),
            ..transition(&created.id)
        })
        .await
        .expect("rejected")
        .into_inner();

    assert_eq!(rejected.status, pb::ApplicationStatus::Rejected as i32);
    assert_eq!(rejected.rejection_reason.as_deref(), Some("Нет бюджета"));
}

#[tokio::test]
async fn illegal_transitions_are_refused_and_repeats_are_no_ops() {
    let app = spawn_app().await;
    let created = create(&mut app.applicant("alice"), "Мониторы").await;
    let mut lifecycle = app.lifecycle();

    let skipped = lifecycle
        .complete_application(transition(&created.id))
        .await
        .expect_err("NEW → COMPLETED");
    assert_code(&skipped, Code::FailedPrecondition);
    let rejected_early = lifecycle
        .reject_application(transition(&created.id))
        .await
        .expect_err("NEW → REJECTED");
    assert_code(&rejected_early, Code::FailedPrecondition);

    let first = lifecycle
        .start_processing(transition(&created.id))
        .await
        .expect("started")
        .into_inner();
    let again = lifecycle
        .start_processing(transition(&created.id))
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(first, again);

    lifecycle
        .complete_application(transition(&created.id))
        .await
        .expect("completed");
    let back = lifecycle
        .start_processing(transition(&created.id))
        .await
        .expect_err("COMPLETED → PROCESSING");
    assert_code(&back, Code::FailedPrecondition);

    let missing = lifecycle
        .start_processing(transition(&uuid::Uuid::new_v4().to_string()))
        .await
        .expect_err("missing");
    assert_code(&missing, Code::NotFound);
}

#[tokio::test]
async fn a_stale_expected_version_is_aborted() {
    let app = spawn_app().await;
    let created = create(&mut app.applicant("alice"), "Мониторы").await;
    let mut lifecycle = app.lifecycle();

    let stale = lifecycle
        .start_processing(pb::TransitionRequest {
            expected_version: Some(7),
            ..transition(&created.id)
        })
        .await
        .expect_err("stale");
    assert_code(&stale, Code::Aborted);

    let fresh = lifecycle
        .start_processing(pb::TransitionRequest {
            expected_version: Some(created.version),
            ..transition(&created.id)
        })
        .await
        .expect("current version");
    assert_eq!(fresh.into_inner().version, created.version + 1);
}

#[tokio::test]
async fn concurrent_cancel_and_complete_have_exactly_one_winner() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let mut cancels_won = 0;
    let mut completes_won = 0;
    for round in 0..20 {
        let created = create(&mut alice, &format!("гонка {round}")).await;
        app.lifecycle()
            .start_processing(transition(&created.id))
            .await
            .expect("started");

        let mut canceller = app.applicant("alice");
        let mut completer = app.lifecycle();
        let cancel_request = pb::CancelApplicationRequest {
            id: created.id.clone(),
            reason: None,
        };
        let (cancel, complete) = tokio::join!(
            canceller.cancel_application(cancel_request),
            completer.complete_application(transition(&created.id)),
        );

        let final_state = alice
            .get_application(pb::GetApplicationRequest {
                id: created.id.clone(),
            })
            .await
            .expect("readable")
            .into_inner();
        match (cancel, complete) {
            (Ok(cancelled), Err(lost)) => {
                assert_code(&lost, Code::FailedPrecondition);
                assert_eq!(cancelled.into_inner(), final_state);
                assert_eq!(final_state.status, pb::ApplicationStatus::Cancelled as i32);
                cancels_won += 1;
            }
            (Err(lost), Ok(completed)) => {
                assert_code(&lost, Code::FailedPrecondition);
                assert_eq!(completed.into_inner(), final_state);
                assert_eq!(final_state.status, pb::ApplicationStatus::Completed as i32);
                completes_won += 1;
            }
            (cancel, complete) => panic!(
                "round {round}: expected exactly one winner, got {cancel:?} and {complete:?}"
            ),
        }
        assert_eq!(final_state.version, 3, "exactly one write after PROCESSING");
    }
    assert_eq!(cancels_won + completes_won, 20);
}
