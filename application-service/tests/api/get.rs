use tonic::Code;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, create, spawn_app, violated_fields};

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
