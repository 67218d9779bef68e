use tonic::Code;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, create, spawn_app, violated_fields};

fn cancel(id: &str, reason: Option<&str>) -> pb::CancelApplicationRequest {
    pb::CancelApplicationRequest {
        id: id.to_owned(),
        reason: reason.map(str::to_owned),
    }
}

#[tokio::test]
async fn cancelling_a_new_application_records_the_reason() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let created = create(&mut alice, "Бумага").await;

    let cancelled = alice
        .cancel_application(cancel(&created.id, Some("Передумали")))
        .await
        .expect("cancelled")
        .into_inner();

    assert_eq!(cancelled.status, pb::ApplicationStatus::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("Передумали"));
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!(cancelled.version, 2);
}

#[tokio::test]
async fn cancelling_twice_returns_the_application_unchanged() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let created = create(&mut alice, "Бумага").await;
    let first = alice
        .cancel_application(cancel(&created.id, Some("first")))
        .await
        .expect("first")
        .into_inner();

    let second = alice
        .cancel_application(cancel(&created.id, Some("second")))
        .await
        .expect("second")
        .into_inner();

    assert_eq!(first, second);
    assert_eq!(second.cancel_reason.as_deref(), Some("first"));
}

#[tokio::test]
async fn processing_applications_can_be_cancelled_but_finished_ones_cannot() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let mut lifecycle = app.lifecycle();

    let processing = create(&mut alice, "в работе").await;
    lifecycle
        .start_processing(pb::TransitionRequest {
            id: processing.id.clone(),
            ..Default::default()
        })
        .await
        .expect("started");
    let cancelled = alice
        .cancel_application(cancel(&processing.id, None))
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.status, pb::ApplicationStatus::Cancelled as i32);

    for finish in ["complete", "reject"] {
        let application = create(&mut alice, finish).await;
        let request = pb::TransitionRequest {
            id: application.id.clone(),
            ..Default::default()
        };
        lifecycle
            .start_processing(request.clone())
            .await
            .expect("started");
        if finish == "complete" {
            lifecycle
                .complete_application(request)
                .await
                .expect("completed");
        } else {
            lifecycle
                .reject_application(request)
                .await
                .expect("rejected");
        }
        let status = alice
            .cancel_application(cancel(&application.id, None))
            .await
            .expect_err("too late");
        assert_code(&status, Code::FailedPrecondition);
    }
}

#[tokio::test]
async fn cancel_reports_unknown_and_malformed_ids_and_long_reasons() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let missing = alice
        .cancel_application(cancel(&uuid::Uuid::new_v4().to_string(), None))
        .await
        .expect_err("missing");
    assert_code(&missing, Code::NotFound);

    let malformed = alice
        .cancel_application(cancel("42", None))
        .await
        .expect_err("malformed");
    assert_code(&malformed, Code::InvalidArgument);

    let created = create(&mut alice, "Бумага").await;
    let long = alice
        .cancel_application(cancel(&created.id, Some(&"r".repeat(1001))))
        .await
        .expect_err("too long");
    assert_code(&long, Code::InvalidArgument);
    assert_eq!(violated_fields(&long), ["reason"]);
}
