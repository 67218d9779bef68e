use application_service::domain::new_application::BATCH_MAX;
use tonic::Code;
use zayavki_identity::{ManualClock, ThrottleConfig};
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{assert_code, count_rows, draft, spawn_app, spawn_app_with, violated_fields};

fn batch(titles: &[&str]) -> pb::BatchCreateApplicationsRequest {
    pb::BatchCreateApplicationsRequest {
        request_id: String::new(),
        applications: titles.iter().map(|title| draft(title)).collect(),
    }
}

#[tokio::test]
async fn a_batch_is_created_in_the_given_order() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");

    let created = alice
        .batch_create_applications(batch(&["первая", "вторая", "третья"]))
        .await
        .expect("created")
        .into_inner()
        .applications;

    let titles: Vec<_> = created
        .iter()
        .map(|application| application.title.as_str())
        .collect();
    assert_eq!(titles, ["первая", "вторая", "третья"]);
    assert!(
        created
            .iter()
            .all(|application| application.applicant == "alice")
    );
    assert_eq!(count_rows(&app.pool).await, 3);
    for application in created {
        let read = alice
            .get_application(pb::GetApplicationRequest {
                id: application.id.clone(),
            })
            .await
            .expect("stored")
            .into_inner();
        assert_eq!(read, application);
    }
}

#[tokio::test]
async fn an_invalid_batch_names_the_items_and_creates_nothing() {
    let app = spawn_app().await;
    let mut request = batch(&["ok", "", "ok", "ok"]);
    request.applications[3].items[1].unit_price = "12,50".to_owned();

    let status = app
        .applicant("alice")
        .batch_create_applications(request)
        .await
        .expect_err("rejected");

    assert_code(&status, Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "applications[1].title",
            "applications[3].items[1].unit_price"
        ]
    );
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn batch_size_is_between_one_and_a_thousand() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");

    let empty = alice
        .batch_create_applications(batch(&[]))
        .await
        .expect_err("empty");
    assert_code(&empty, Code::InvalidArgument);
    assert_eq!(violated_fields(&empty), ["applications"]);

    let titles: Vec<String> = (0..1001).map(|index| format!("заявка {index}")).collect();
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    let too_many = alice
        .batch_create_applications(batch(&titles))
        .await
        .expect_err("too many");
    assert_code(&too_many, Code::InvalidArgument);
    assert_eq!(count_rows(&app.pool).await, 0);

    let created = alice
        .batch_create_applications(batch(&titles[..1000]))
        .await
        .expect("a thousand is fine")
        .into_inner();
    assert_eq!(created.applications.len(), 1000);
    assert_eq!(count_rows(&app.pool).await, 1000);
}

#[tokio::test]
async fn a_batch_replays_with_its_request_id() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let mut request = batch(&["a", "b"]);
    request.request_id = "batch-1".to_owned();

    let first = alice
        .batch_create_applications(request.clone())
        .await
        .expect("first")
        .into_inner();
    let second = alice
        .batch_create_applications(request.clone())
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, second);
    assert_eq!(count_rows(&app.pool).await, 2);

    request.applications.pop();
    let status = alice
        .batch_create_applications(request)
        .await
        .expect_err("other body");
    assert_code(&status, Code::AlreadyExists);
}

#[tokio::test]
async fn single_and_batch_create_share_the_key_space() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    alice
        .create_application(pb::CreateApplicationRequest {
            request_id: "key".to_owned(),
            application: Some(draft("a")),
        })
        .await
        .expect("created");
    let mut request = batch(&["a"]);
    request.request_id = "key".to_owned();
    let status = alice
        .batch_create_applications(request)
        .await
        .expect_err("reused");
    assert_code(&status, Code::AlreadyExists);
}

#[tokio::test]
async fn the_largest_batch_fits_the_default_rate_limit() {
    // The default limits, with time standing still so no refill helps the batch through.
    let app = spawn_app_with(|settings| {
        settings.throttle = ThrottleConfig {
            clock: ManualClock::new().into(),
            ..ThrottleConfig::default()
        };
    })
    .await;
    let titles: Vec<String> = (0..BATCH_MAX)
        .map(|index| format!("заявка {index}"))
        .collect();
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();

    let created = app
        .applicant("alice")
        .batch_create_applications(batch(&titles))
        .await
        .expect("a full batch is within the default burst")
        .into_inner()
        .applications;

    assert_eq!(created.len(), 1_000);
    assert_eq!(count_rows(&app.pool).await, 1_000);
}
