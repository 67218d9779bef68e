//! `POST /applications` over REST: the created body, idempotency keys and every way a request
//! body can be wrong.

use reqwest::{Method, StatusCode, header::CONTENT_TYPE};
use serde_json::json;
use zayavki_identity::Role;

use crate::{
    helpers::{count_rows, spawn_app, spawn_app_with},
    rest_helpers::{Rest, assert_application_shape, id_of, new_application, send},
};

#[tokio::test]
async fn create_answers_201_with_location_and_the_documented_body() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let reply = alice
        .post_json("/applications", &new_application("Закупка посуды 🥄"))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.content_type(), "application/json");
    let body = &reply.body;
    assert_application_shape(body);
    let id = id_of(body);
    assert_eq!(
        reply.header("location"),
        Some(format!("/applications/{id}").as_str())
    );
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(body["applicant"], "alice");
    assert_eq!(body["title"], "Закупка посуды 🥄");
    assert_eq!(body["status"], "NEW");
    assert_eq!(body["version"], 1);
    assert_eq!(body["totalAmount"], "666.00");
    assert_eq!(body["items"][0]["unitPrice"], "35.50");
    assert_eq!(body["items"][1]["unitPrice"], "40.00");
    assert_eq!(body["items"][1]["quantity"], 6);
    assert_eq!(body["appliedAt"], body["updatedAt"]);
    for absent in ["cancelReason", "cancelledAt", "rejectionReason"] {
        assert!(body[absent].is_null(), "{absent} is present as null");
    }
    // Raw text: money is a JSON string and null properties are written out.
    assert!(
        reply.text.contains(r#""totalAmount":"666.00""#),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains(r#""cancelReason":null"#),
        "{}",
        reply.text
    );

    let read = alice.get(&format!("/applications/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, reply.body);
}

#[tokio::test]
async fn a_title_alone_is_enough_and_the_applicant_comes_from_the_token() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let reply = alice
        .post_json(
            "/applications",
            &json!({ "title": "  Картриджи  ", "description": null }),
        )
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["title"], "Картриджи");
    assert_eq!(reply.body["items"], json!([]));
    assert_eq!(reply.body["totalAmount"], "0.00");
    assert!(reply.body["description"].is_null());

    let smuggled = alice
        .post_json(
            "/applications",
            &json!({ "title": "x", "applicant": "mallory" }),
        )
        .await;
    smuggled.assert_invalid(&["applicant"]);
    assert_eq!(smuggled.error_message("applicant"), "unknown field");
}

#[tokio::test]
async fn the_same_idempotency_key_replays_and_a_different_body_is_422() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let post = |body: serde_json::Value, key: &'static str| {
        let request = alice
            .request(Method::POST, "/applications")
            .header("Idempotency-Key", key)
            .json(&body);
        send(request)
    };

    let first = post(new_application("Бумага"), "key-1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    // Same members in another order and with other white space: the same request.
    let reordered = alice
        .request(Method::POST, "/applications")
        .header("Idempotency-Key", "key-1")
        .header(CONTENT_TYPE, "application/json")
        .body(
            r#"{ "items": [ {"unitPrice": "35.50", "quantity": 12, "name": "Ложки чайные"},
                 {"name": "Вилки", "quantity": 6, "unitPrice": "40"} ],
                 "description": "Для столовой на втором этаже", "title": "Бумага" }"#,
        );
    let replay = send(reordered).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(count_rows(&app.pool).await, 1);

    let reused = post(new_application("Другая бумага"), "key-1").await;
    reused.assert_problem(422, "idempotency-key-reused");
    assert_eq!(count_rows(&app.pool).await, 1);

    // Keys are per user.
    let bob = Rest::applicant(&app, "bob");
    let bobs = send(
        bob.request(Method::POST, "/applications")
            .header("Idempotency-Key", "key-1")
            .json(&new_application("Бумага")),
    )
    .await;
    assert_eq!(bobs.status, StatusCode::CREATED);
    assert_eq!(bobs.header("idempotent-replayed"), None);
    assert_eq!(count_rows(&app.pool).await, 2);
}

#[tokio::test]
async fn malformed_idempotency_keys_are_400_naming_the_header() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    for key in ["".to_owned(), "a b".to_owned(), "k".repeat(201)] {
        let reply = send(
            alice
                .request(Method::POST, "/applications")
                .header("Idempotency-Key", key.as_str())
                .json(&new_application("Бумага")),
        )
        .await;
        reply.assert_invalid(&["Idempotency-Key"]);
    }
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn invalid_fields_are_named_in_lower_camel_case_and_nothing_is_stored() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let reply = alice
        .post_json(
            "/applications",
            &json!({
                "title": "   ",
                "description": "bad \u{0} byte",
                "items": [
                    { "name": "", "quantity": 0, "unitPrice": "-1" },
                    { "name": "ok", "quantity": 1, "unitPrice": "1.234" },
                ],
            }),
        )
        .await;

    reply.assert_invalid(&[
        "title",
        "description",
        "items[0].name",
        "items[0].quantity",
        "items[0].unitPrice",
        "items[1].unitPrice",
    ]);
    assert_eq!(reply.body["detail"], "6 fields are invalid.");
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn wrong_json_types_and_missing_properties_are_400_naming_the_property() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    let number_price = alice
        .post_json(
            "/applications",
            &json!({ "title": "x", "items": [{ "name": "a", "quantity": 1, "unitPrice": 12.5 }] }),
        )
        .await;
    number_price.assert_invalid(&["items[0].unitPrice"]);

    let missing_title = alice
        .post_json("/applications", &json!({ "description": "no title" }))
        .await;
    missing_title.assert_invalid(&["title"]);
    assert_eq!(missing_title.error_message("title"), "is required");

    let null_items = alice
        .post_json("/applications", &json!({ "title": "x", "items": null }))
        .await;
    null_items.assert_invalid(&["items"]);

    let not_an_object = alice.post_json("/applications", &json!(["x"])).await;
    not_an_object.assert_invalid(&["body"]);

    // JSON has one number type: 3.0 is the integer 3, 3.5 is not an integer.
    let integral = alice
        .post_json(
            "/applications",
            &json!({ "title": "x", "items": [{ "name": "a", "quantity": 3.0, "unitPrice": "1" }] }),
        )
        .await;
    assert_eq!(integral.status, StatusCode::CREATED, "{integral:?}");
    assert_eq!(integral.body["items"][0]["quantity"], 3);
    let fractional = alice
        .post_json(
            "/applications",
            &json!({ "title": "x", "items": [{ "name": "a", "quantity": 3.5, "unitPrice": "1" }] }),
        )
        .await;
    fractional.assert_invalid(&["items[0].quantity"]);
}

#[tokio::test]
async fn malformed_json_is_400_on_body() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    for raw in ["{\"title\": ", "not json", "{\"title\": \"x\",}", ""] {
        let reply = send(
            alice
                .request(Method::POST, "/applications")
                .header(CONTENT_TYPE, "application/json")
                .body(raw),
        )
        .await;
        reply.assert_invalid(&["body"]);
    }
    let reply = send(alice.request(Method::POST, "/applications")).await;
    reply.assert_invalid(&["body"]);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");

    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = alice
            .request(Method::POST, "/applications")
            .body(r#"{"title": "x"}"#);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        send(request)
            .await
            .assert_problem(415, "unsupported-media-type");
    }
    let with_charset = send(
        alice
            .request(Method::POST, "/applications")
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(r#"{"title": "x"}"#),
    )
    .await;
    assert_eq!(with_charset.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|settings| settings.http_body_limit_bytes = 64 * 1024).await;
    let alice = Rest::applicant(&app, "alice");

    let description = "я".repeat(40 * 1024);
    let reply = alice
        .post_json(
            "/applications",
            &json!({ "title": "x", "description": description }),
        )
        .await;

    reply.assert_problem(413, "payload-too-large");
    assert_eq!(
        reply.body["detail"],
        "The request body exceeds 65536 bytes."
    );
    assert_eq!(count_rows(&app.pool).await, 0);
}

#[tokio::test]
async fn the_default_limit_is_4_mib() {
    let app = spawn_app().await;
    let alice = Rest::applicant(&app, "alice");
    let padding = " ".repeat(4 * 1024 * 1024);

    let reply = send(
        alice
            .request(Method::POST, "/applications")
            .header(CONTENT_TYPE, "application/json")
            .body(format!(r#"{{"title": "x"}}{padding}"#)),
    )
    .await;

    reply.assert_problem(413, "payload-too-large");
    assert_eq!(
        reply.body["detail"],
        "The request body exceeds 4194304 bytes."
    );
}

#[tokio::test]
async fn only_applicants_file_applications() {
    let app = spawn_app().await;

    for roles in [&[Role::Operator][..], &[Role::Service]] {
        let reply = Rest::as_user(&app, "staff", roles)
            .post_json("/applications", &new_application("x"))
            .await;
        reply.assert_problem(403, "permission-denied");
    }
    assert_eq!(count_rows(&app.pool).await, 0);
}
