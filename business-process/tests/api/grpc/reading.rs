//! Who may read what, one process with its history, and listings page by page.

use std::collections::HashSet;

use business_process::{
    domain::{Month, ProcessState},
    storage::{budgets, steps},
};
use chrono::Utc;
use serde_json::json;
use tonic::Code;
use uuid::Uuid;
use zayavki_proto::process::v1 as pb;

use super::{Client, money, refused_with, spawn_api};

fn get(application_id: Uuid) -> pb::GetProcessRequest {
    pb::GetProcessRequest {
        application_id: application_id.to_string(),
    }
}

#[tokio::test]
async fn a_token_without_a_role_reaches_nothing_and_no_token_is_unauthenticated() {
    let api = spawn_api().await;
    let id = api
        .seed("alice", ProcessState::AwaitingDecision, "5000.00")
        .await;
    let mut nobody = api.client("alice", &[]);

    let refusals = [
        nobody.get_process(get(id)).await.err(),
        nobody
            .list_processes(pb::ListProcessesRequest::default())
            .await
            .err(),
        nobody
            .get_budget(pb::GetBudgetRequest::default())
            .await
            .err(),
        nobody
            .request_report(pb::RequestReportRequest::default())
            .await
            .err(),
    ];
    for refusal in refusals {
        let status = refusal.expect("refused");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    let anonymous = api.anonymous().get_process(get(id)).await;
    assert_eq!(
        anonymous.expect_err("refused").code(),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_process_comes_with_its_reservation_and_history_and_is_hidden_from_other_applicants() {
    let api = spawn_api().await;
    let id = api
        .seed("alice", ProcessState::AwaitingDecision, "5000.00")
        .await;
    let month = Month::of(Utc::now());
    {
        let mut connection = api.pool.acquire().await.expect("connection");
        budgets::reserve(
            &mut connection,
            id,
            "alice",
            month,
            money("5000.00"),
            money("100000.00"),
        )
        .await
        .expect("reserved");
        steps::record(&mut connection, id, "processing.started", json!({}))
            .await
            .expect("step");
        steps::record(
            &mut connection,
            id,
            "budget.reserved",
            json!({"amount": "5000.00", "month": month.to_string()}),
        )
        .await
        .expect("step");
    }

    let own = api
        .applicant("alice")
        .get_process(get(id))
        .await
        .expect("alice reads her own")
        .into_inner();

    assert_eq!(own.application_id, id.to_string());
    assert_eq!(own.applicant, "alice");
    assert_eq!(own.total_amount, "5000.00");
    assert_eq!(own.state(), pb::ProcessState::AwaitingDecision);
    let reservation = own.reservation.expect("a reservation");
    assert_eq!(reservation.amount, "5000.00");
    assert_eq!(reservation.month, month.to_string());
    assert_eq!(reservation.state(), pb::ReservationState::Reserved);
    let names: Vec<&str> = own.steps.iter().map(|step| step.step.as_str()).collect();
    assert_eq!(names, ["processing.started", "budget.reserved"]);
    let details: serde_json::Value =
        serde_json::from_str(&own.steps[1].details_json).expect("details are JSON");
    assert_eq!(details["amount"], "5000.00");
    assert!(own.steps.iter().all(|step| step.at.is_some()));

    for mut reader in [api.operator("olga"), api.service()] {
        let seen = reader
            .get_process(get(id))
            .await
            .expect("readable")
            .into_inner();
        assert_eq!(seen.steps.len(), 2);
    }
    let someone_elses = api
        .applicant("bob")
        .get_process(get(id))
        .await
        .expect_err("hidden from bob");
    let missing = api
        .applicant("bob")
        .get_process(get(Uuid::now_v7()))
        .await
        .expect_err("missing");
    assert_eq!(someone_elses.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = api
        .applicant("alice")
        .get_process(pb::GetProcessRequest {
            application_id: "not-a-uuid".to_owned(),
        })
        .await
        .expect_err("malformed");
    assert_eq!(
        refused_with(&malformed, Code::InvalidArgument),
        ["application_id"]
    );
}

fn list(states: &[pb::ProcessState], page_size: i32, page_token: &str) -> pb::ListProcessesRequest {
    pb::ListProcessesRequest {
        state: states.iter().map(|state| *state as i32).collect(),
        page_size,
        page_token: page_token.to_owned(),
    }
}

/// Every page of a listing, followed to its end.
async fn every_page(
    client: &mut Client,
    states: &[pb::ProcessState],
    page_size: i32,
) -> Vec<Vec<pb::Process>> {
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_processes(list(states, page_size, &token))
            .await
            .expect("page")
            .into_inner();
        pages.push(page.processes);
        if page.next_page_token.is_empty() {
            return pages;
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn listing_pages_cover_every_matching_process_exactly_once_oldest_first() {
    let api = spawn_api().await;
    let mut waiting = Vec::new();
    for applicant in ["alice", "bob", "alice", "carol", "alice", "bob", "alice"] {
        waiting.push((
            applicant,
            api.seed(applicant, ProcessState::AwaitingDecision, "5000.00")
                .await,
        ));
    }
    let completed = api.seed("alice", ProcessState::Completed, "10.00").await;
    let approving = api.seed("bob", ProcessState::Approving, "10.00").await;

    let mut operator = api.operator("olga");
    let pages = every_page(&mut operator, &[pb::ProcessState::AwaitingDecision], 3).await;

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let listed: Vec<pb::Process> = pages.into_iter().flatten().collect();
    let ids: Vec<String> = listed
        .iter()
        .map(|process| process.application_id.clone())
        .collect();
    let expected: Vec<String> = waiting.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(ids, expected, "every waiting process once, oldest first");
    assert!(listed.iter().all(|process| process.steps.is_empty()));
    assert!(
        listed
            .iter()
            .all(|process| process.state() == pb::ProcessState::AwaitingDecision)
    );

    let both = every_page(
        &mut operator,
        &[pb::ProcessState::Completed, pb::ProcessState::Approving],
        1,
    )
    .await;
    let both: HashSet<String> = both
        .into_iter()
        .flatten()
        .map(|process| process.application_id)
        .collect();
    assert_eq!(
        both,
        HashSet::from([completed.to_string(), approving.to_string()])
    );
    let everything = every_page(&mut operator, &[], 1_000).await;
    assert_eq!(everything.concat().len(), waiting.len() + 2);

    let alices = every_page(&mut api.applicant("alice"), &[], 2).await;
    let alices: Vec<pb::Process> = alices.concat();
    assert_eq!(
        alices.len(),
        5,
        "her four waiting ones and the completed one"
    );
    assert!(alices.iter().all(|process| process.applicant == "alice"));
}

#[tokio::test]
async fn a_page_token_only_continues_the_listing_it_came_from() {
    let api = spawn_api().await;
    for _ in 0..3 {
        api.seed("alice", ProcessState::AwaitingDecision, "5000.00")
            .await;
    }
    let mut operator = api.operator("olga");
    let first = operator
        .list_processes(list(&[pb::ProcessState::AwaitingDecision], 1, ""))
        .await
        .expect("first page")
        .into_inner();
    assert!(!first.next_page_token.is_empty());

    let other_states = operator
        .list_processes(list(
            &[pb::ProcessState::Completed],
            1,
            &first.next_page_token,
        ))
        .await
        .expect_err("another listing");
    let other_caller = api
        .applicant("alice")
        .list_processes(list(
            &[pb::ProcessState::AwaitingDecision],
            1,
            &first.next_page_token,
        ))
        .await
        .expect_err("another caller's listing");
    let garbage = operator
        .list_processes(list(&[], 1, "garbage"))
        .await
        .expect_err("garbage");
    for refusal in [other_states, other_caller, garbage] {
        assert_eq!(
            refused_with(&refusal, Code::InvalidArgument),
            ["page_token"]
        );
    }
    let too_large = operator
        .list_processes(list(&[], 1_001, ""))
        .await
        .expect_err("page too large");
    assert_eq!(
        refused_with(&too_large, Code::InvalidArgument),
        ["page_size"]
    );
    let unspecified = operator
        .list_processes(list(
            &[pb::ProcessState::Completed, pb::ProcessState::Unspecified],
            0,
            "",
        ))
        .await
        .expect_err("UNSPECIFIED is no state");
    assert_eq!(
        refused_with(&unspecified, Code::InvalidArgument),
        ["state[1]"]
    );
    let same_filters_repeated = operator
        .list_processes(list(
            &[
                pb::ProcessState::AwaitingDecision,
                pb::ProcessState::AwaitingDecision,
            ],
            5,
            &first.next_page_token,
        ))
        .await
        .expect("the same listing with a larger page")
        .into_inner();
    assert_eq!(same_filters_repeated.processes.len(), 2);
}
