use tonic::Code;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, create, spawn_app, spawn_app_with, violated_fields};

#[tokio::test]
async fn get_returns_what_create_returned() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let created = create(&mut alice, "Канцтовары").await;
    let read = alice
        .get_application(pb::GetApplicationRequest {
            id: created.id.clone(),
        })
        .await
        .expect("found")
        .into_inner();
    assert_eq!(read, created);
}

#[tokio::test]
async fn unknown_id_is_not_found_and_malformed_id_is_invalid() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");

    let missing = alice
        .get_application(pb::GetApplicationRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("missing");
    assert_code(&missing, Code::NotFound);

    let malformed = alice
        .get_application(pb::GetApplicationRequest {
            id: "not-a-uuid".to_owned(),
        })
        .await
        .expect_err("malformed");
    assert_code(&malformed, Code::InvalidArgument);
    assert_eq!(violated_fields(&malformed), ["id"]);
}

/// Concurrent reads share queries (one slot makes every lookup queue behind another); each
/// caller still gets exactly its own answer: the same id asked many times at once, other
/// applicants' ids and unknown ids among them.
#[tokio::test]
async fn concurrent_gets_each_get_their_own_answer() {
    let app = spawn_app_with(|settings| settings.read_queries = 1).await;
    let mut alice = app.applicant("alice");
    let mut bob = app.applicant("bob");
    let mut mine = Vec::new();
    for n in 0..5 {
        mine.push(create(&mut alice, &format!("Заявка {n}")).await);
    }
    let bobs = create(&mut bob, "Чужая").await;

    let mut calls = tokio::task::JoinSet::new();
    for round in 0..40 {
        let mut client = alice.clone();
        let (id, expected) = match round % 4 {
            0 | 1 => {
                let own = &mine[round % mine.len()];
                (own.id.clone(), Some(own.clone()))
            }
            2 => (bobs.id.clone(), None),
            _ => (uuid::Uuid::new_v4().to_string(), None),
        };
        calls.spawn(async move {
            let answer = client
                .get_application(pb::GetApplicationRequest { id: id.clone() })
                .await;
            (id, expected, answer)
        });
    }
    let mut found = 0;
    while let Some(call) = calls.join_next().await {
        let (id, expected, answer) = call.expect("call task");
        match expected {
            Some(expected) => {
                assert_eq!(answer.expect("own application").into_inner(), expected);
                found += 1;
            }
            None => assert_code(&answer.expect_err(&id), Code::NotFound),
        }
    }
    assert_eq!(found, 20);
}
