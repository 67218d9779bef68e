use tonic::Code;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{
    assert_code, count_rows, create_request, draft, item, spawn_app, violated_fields,
};

#[tokio::test]
async fn create_returns_the_application_with_an_exact_total_and_the_callers_identity() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");

    let created = alice
        .create_application(create_request("Закупка посуды 🥄"))
        .await
        .expect("created")
        .into_inner();

    assert_eq!(created.applicant, "alice");
    assert_eq!(created.title, "Закупка посуды 🥄");
    assert_eq!(
        created.description.as_deref(),
        Some("Для столовой на втором этаже")
    );
    assert_eq!(created.total_amount, "666.00");
    assert_eq!(created.items[0].unit_price, "35.50");
    assert_eq!(created.items[1].unit_price, "40.00");
    assert_eq!(created.status, pb::ApplicationStatus::New as i32);
    assert_eq!(created.version, 1);
    assert!(created.applied_at.is_some());
    assert!(created.cancel_reason.is_none() && created.cancelled_at.is_none());
    uuid::Uuid::parse_str(&created.id).expect("id is a UUID");
}

#[tokio::test]
async fn text_is_returned_byte_for_byte() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let description = "Строка 1\n\tСтрока 2: «кавычки», emoji 👩‍🍳, ё, 漢字  ";
    let created = alice
        .create_application(pb::CreateApplicationRequest {
            request_id: String::new(),
            application: Some(pb::NewApplication {
                title: "Ёлочные игрушки 🎄".to_owned(),
                description: Some(description.to_owned()),
                items: vec![item("Шар «Снежинка» ❄️", 1, "0.01")],
            }),
        })
        .await
        .expect("created")
        .into_inner();

    let read = alice
        .get_application(pb::GetApplicationRequest { id: created.id })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.title, "Ёлочные игрушки 🎄");
    assert_eq!(read.description.as_deref(), Some(description));
    assert_eq!(read.items[0].name, "Шар «Снежинка» ❄️");
    assert_eq!(read.total_amount, "0.01");
}

#[tokio::test]
async fn invalid_fields_are_named_in_bad_request_details_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");

    let status = alice
        .create_application(pb::CreateApplicationRequest {
            request_id: String::new(),
            application: Some(pb::NewApplication {
                title: "   ".to_owned(),
                description: Some("bad \u{0} byte".to_owned()),
                items: vec![item("", 0, "-1"), item("ok", 1, "1.234")],
            }),
        })
        .await
        .expect_err("rejected");

    assert_code(&status, Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "title",
            "description",
            "items[0].name",
            "items[0].quantity",
            "items[0].unit_price",
            "items[1].unit_price"
        ]
    );
    assert!(status.message().contains("title"), "{}", status.message());
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn limits_on_lengths_and_counts_are_enforced() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let cases = [
        (
            pb::NewApplication {
                title: "я".repeat(201),
                ..draft("x")
            },
            "title",
        ),
        (
            pb::NewApplication {
                description: Some("д".repeat(10_001)),
                ..draft("x")
            },
            "description",
        ),
        (
            pb::NewApplication {
                items: (0..101)
                    .map(|index| item(&format!("item {index}"), 1, "1"))
                    .collect(),
                ..draft("x")
            },
            "items",
        ),
        (
            pb::NewApplication {
                items: vec![item("n", 1_000_001, "1")],
                ..draft("x")
            },
            "items[0].quantity",
        ),
    ];
    for (application, field) in cases {
        let status = alice
            .create_application(pb::CreateApplicationRequest {
                request_id: String::new(),
                application: Some(application),
            })
            .await
            .expect_err("rejected");
        assert_code(&status, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }
    // The largest valid title is accepted.
    let longest = alice
        .create_application(pb::CreateApplicationRequest {
            request_id: String::new(),
            application: Some(pb::NewApplication {
                title: "я".repeat(200),
                ..draft("x")
            }),
        })
        .await
        .expect("200 characters are allowed");
    assert_eq!(longest.into_inner().title.chars().count(), 200);
}

#[tokio::test]
async fn a_missing_application_is_an_invalid_argument() {
    let app = spawn_app().await;
    let status = app
        .applicant("alice")
        .create_application(pb::CreateApplicationRequest::default())
        .await
        .expect_err("rejected");
    assert_code(&status, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["application"]);
}

#[tokio::test]
async fn the_same_request_id_and_body_replays_the_same_application() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let request = pb::CreateApplicationRequest {
        request_id: "order-2025-03-01-1".to_owned(),
        application: Some(draft("Посуда")),
    };

    let first = alice
        .create_application(request.clone())
        .await
        .expect("first")
        .into_inner();
    let second = alice
        .create_application(request)
        .await
        .expect("replay")
        .into_inner();

    assert_eq!(first, second);
    assert_eq!(count_rows(&app.pool).await, 1);
}

#[tokio::test]
async fn the_same_request_id_with_another_body_is_already_exists() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    alice
        .create_application(pb::CreateApplicationRequest {
            request_id: "key-1".to_owned(),
            application: Some(draft("Посуда")),
        })
        .await
        .expect("first");

    let status = alice
        .create_application(pb::CreateApplicationRequest {
            request_id: "key-1".to_owned(),
            application: Some(draft("Другое")),
        })
        .await
        .expect_err("conflict");

    assert_code(&status, Code::AlreadyExists);
    assert!(status.message().contains("key-1"), "{}", status.message());
    assert_eq!(count_rows(&app.pool).await, 1);
}

#[tokio::test]
async fn request_ids_are_scoped_to_the_applicant() {
    let app = spawn_app().await;
    let request = pb::CreateApplicationRequest {
        request_id: "shared-key".to_owned(),
        application: Some(draft("Посуда")),
    };
    let by_alice = app
        .applicant("alice")
        .create_application(request.clone())
        .await
        .expect("alice")
        .into_inner();
    let by_bob = app
        .applicant("bob")
        .create_application(request)
        .await
        .expect("bob")
        .into_inner();
    assert_ne!(by_alice.id, by_bob.id);
    assert_eq!(by_bob.applicant, "bob");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_application() {
    let app = spawn_app().await;
    let request = pb::CreateApplicationRequest {
        request_id: "concurrent-key".to_owned(),
        application: Some(draft("Посуда")),
    };
    let calls = (0..8).map(|_| {
        let mut client = app.applicant("alice");
        let request = request.clone();
        async move {
            client
                .create_application(request)
                .await
                .map(|response| response.into_inner().id)
        }
    });
    let ids: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|result| result.expect("every call succeeds"))
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");
    assert_eq!(count_rows(&app.pool).await, 1);
}
