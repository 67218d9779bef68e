use std::collections::HashSet;

use tonic::Code;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{ApplicationsClient, assert_code, create, draft, spawn_app, violated_fields};

async fn list_all(
    client: &mut ApplicationsClient,
    mut request: pb::ListApplicationsRequest,
) -> Vec<pb::Application> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = client
            .list_applications(request.clone())
            .await
            .expect("page")
            .into_inner();
        assert!(
            page.applications.len() <= usize::try_from(request.page_size.max(1)).unwrap_or(50)
                || request.page_size == 0
        );
        seen.extend(page.applications);
        if page.next_page_token.is_empty() {
            return seen;
        }
        request.page_token = page.next_page_token;
    }
    panic!("pagination did not end");
}

async fn set_applied_at(app: &crate::helpers::TestApp, id: &str, at: &str) {
    sqlx::query("UPDATE applications SET applied_at = $2::timestamptz WHERE id = $1::uuid")
        .bind(id)
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("moved in time");
}

#[tokio::test]
async fn pagination_over_2500_rows_misses_and_repeats_nothing() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let mut created_ids = HashSet::new();
    for (batch, size) in [(0, 1000), (1, 1000), (2, 500)] {
        let response = alice
            .batch_create_applications(pb::BatchCreateApplicationsRequest {
                request_id: String::new(),
                applications: (0..size)
                    .map(|index| draft(&format!("партия {batch} заявка {index}")))
                    .collect(),
            })
            .await
            .expect("batch")
            .into_inner();
        created_ids.extend(
            response
                .applications
                .into_iter()
                .map(|application| application.id),
        );
    }
    assert_eq!(created_ids.len(), 2500);

    let listed = list_all(
        &mut alice,
        pb::ListApplicationsRequest {
            page_size: 97,
            ..Default::default()
        },
    )
    .await;

    let listed_ids: Vec<&String> = listed.iter().map(|application| &application.id).collect();
    let unique: HashSet<&String> = listed_ids.iter().copied().collect();
    assert_eq!(listed_ids.len(), 2500, "no row repeated");
    assert_eq!(unique.len(), 2500);
    assert!(
        created_ids.iter().all(|id| unique.contains(id)),
        "no row missed"
    );
    // Newest first, ties broken by id: the order is strictly decreasing by (applied_at, id).
    let keys: Vec<_> = listed
        .iter()
        .map(|application| {
            let at = application.applied_at.expect("applied_at");
            (
                at.seconds,
                at.nanos,
                uuid::Uuid::parse_str(&application.id).expect("uuid"),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] > pair[1]),
        "order is strict and stable"
    );
}

#[tokio::test]
async fn default_page_size_is_50_and_out_of_range_sizes_are_refused() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    alice
        .batch_create_applications(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: (0..60).map(|index| draft(&format!("{index}"))).collect(),
        })
        .await
        .expect("batch");

    let first = alice
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("page")
        .into_inner();
    assert_eq!(first.applications.len(), 50);
    assert!(!first.next_page_token.is_empty());

    for size in [-1, 1001] {
        let status = alice
            .list_applications(pb::ListApplicationsRequest {
                page_size: size,
                ..Default::default()
            })
            .await
            .expect_err("out of range");
        assert_code(&status, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), ["page_size"]);
    }
}

#[tokio::test]
async fn filters_by_status_and_inclusive_whole_days() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let march_1 = create(&mut alice, "1 марта").await;
    let march_2 = create(&mut alice, "2 марта").await;
    let march_3 = create(&mut alice, "3 марта").await;
    set_applied_at(&app, &march_1.id, "2025-03-01T00:00:00Z").await;
    set_applied_at(&app, &march_2.id, "2025-03-02T23:59:59.999999Z").await;
    set_applied_at(&app, &march_3.id, "2025-03-03T00:00:00Z").await;
    app.lifecycle()
        .start_processing(pb::TransitionRequest {
            id: march_2.id.clone(),
            ..Default::default()
        })
        .await
        .expect("started");

    let titles = |applications: Vec<pb::Application>| -> Vec<String> {
        applications
            .into_iter()
            .map(|application| application.title)
            .collect()
    };
    let in_window = list_all(
        &mut alice,
        pb::ListApplicationsRequest {
            applied_from: "2025-03-01".to_owned(),
            applied_to: "2025-03-02".to_owned(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(titles(in_window), ["2 марта", "1 марта"]);

    let processing = list_all(
        &mut alice,
        pb::ListApplicationsRequest {
            applied_from: "2025-03-01".to_owned(),
            applied_to: "2025-03-02".to_owned(),
            status: vec![pb::ApplicationStatus::Processing as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(titles(processing), ["2 марта"]);

    let several = list_all(
        &mut alice,
        pb::ListApplicationsRequest {
            status: vec![
                pb::ApplicationStatus::Processing as i32,
                pb::ApplicationStatus::New as i32,
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(several.len(), 3);

    let by_timestamp = list_all(
        &mut alice,
        pb::ListApplicationsRequest {
            applied_from: "2025-03-02T23:59:59.999999Z".to_owned(),
            applied_to: "2025-03-03T03:00:00+03:00".to_owned(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(titles(by_timestamp), ["3 марта", "2 марта"]);
}

#[tokio::test]
async fn bad_filters_and_tokens_are_invalid_arguments() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    for _ in 0..3 {
        create(&mut alice, "x").await;
    }
    let cases = [
        (
            pb::ListApplicationsRequest {
                applied_from: "01.03.2025".to_owned(),
                ..Default::default()
            },
            "applied_from",
        ),
        (
            pb::ListApplicationsRequest {
                applied_to: "2025-02-30".to_owned(),
                ..Default::default()
            },
            "applied_to",
        ),
        (
            pb::ListApplicationsRequest {
                status: vec![0],
                ..Default::default()
            },
            "status[0]",
        ),
        (
            pb::ListApplicationsRequest {
                status: vec![42],
                ..Default::default()
            },
            "status[0]",
        ),
        (
            pb::ListApplicationsRequest {
                page_token: "garbage".to_owned(),
                ..Default::default()
            },
            "page_token",
        ),
    ];
    for (request, field) in cases {
        let status = alice.list_applications(request).await.expect_err("invalid");
        assert_code(&status, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }

    let first = alice
        .list_applications(pb::ListApplicationsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner();
    let status = alice
        .list_applications(pb::ListApplicationsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            status: vec![pb::ApplicationStatus::Completed as i32],
            ..Default::default()
        })
        .await
        .expect_err("token from other filters");
    assert_eq!(violated_fields(&status), ["page_token"]);
}
