//! Who may call what over gRPC: every RPC with no token, with each kind of bad token, and with
//! each role; another applicant's applications look exactly like missing ones.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tonic::{
    Code, Request, Status, metadata::MetadataValue, service::Interceptor, transport::Channel,
};
use zayavki_identity::{Claims, IdentityConfig, Role, TokenMinter};
use zayavki_proto::applications::v1::{
    self as pb, application_lifecycle_client::ApplicationLifecycleClient,
    application_service_client::ApplicationServiceClient,
};

use crate::helpers::{TEST_SECRET, TestApp, assert_code, create, draft, spawn_app};

#[derive(Clone)]
struct RawAuthorization(String);

impl Interceptor for RawAuthorization {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let value =
            MetadataValue::try_from(self.0.as_str()).map_err(|_| Status::internal("ascii"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims(exp: u64, nbf: Option<u64>) -> Claims {
    Claims {
        sub: "alice".to_owned(),
        name: None,
        roles: vec![
            "applicant".to_owned(),
            "operator".to_owned(),
            "service".to_owned(),
        ],
        exp,
        nbf,
        iat: None,
        iss: None,
        aud: None,
    }
}

/// Every way a token can be wrong, with a name for failure messages.
pub fn bad_authorizations() -> Vec<(&'static str, String)> {
    let good_minter =
        TokenMinter::new(&IdentityConfig::default().with_secret(TEST_SECRET)).expect("minter");
    let forger = TokenMinter::new(
        &IdentityConfig::default().with_secret("another-secret-another-secret-another-secret"),
    )
    .expect("forger");
    let rsa_key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/identity/tests/fixtures/rsa-private.pem"
    );
    let rsa_minter = TokenMinter::new(&IdentityConfig::default().with_private_key_file(rsa_key))
        .expect("rsa minter");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now() + 600, None)).expect("json"))
    );
    vec![
        ("alg none", format!("Bearer {unsigned}")),
        (
            "wrong algorithm",
            format!(
                "Bearer {}",
                rsa_minter.sign(&claims(now() + 600, None)).expect("rs256")
            ),
        ),
        (
            "expired",
            format!(
                "Bearer {}",
                good_minter
                    .sign(&claims(now() - 3600, None))
                    .expect("expired")
            ),
        ),
        (
            "not yet valid",
            format!(
                "Bearer {}",
                good_minter
                    .sign(&claims(now() + 7200, Some(now() + 3600)))
                    .expect("nbf")
            ),
        ),
        ("malformed", "Bearer not-a-jwt".to_owned()),
        (
            "forged",
            format!(
                "Bearer {}",
                forger.sign(&claims(now() + 600, None)).expect("forged")
            ),
        ),
        (
            "not bearer",
            format!("Basic {}", URL_SAFE_NO_PAD.encode("alice:secret")),
        ),
    ]
}

/// Calls every RPC once with the given client pair and returns each outcome's code.
async fn call_everything(
    channel: Channel,
    interceptor: RawAuthorization,
    id: &str,
) -> Vec<(&'static str, Code)> {
    let mut api = ApplicationServiceClient::with_interceptor(channel.clone(), interceptor.clone());
    let mut lifecycle = ApplicationLifecycleClient::with_interceptor(channel, interceptor);
    let code = |result: Result<tonic::Response<_>, Status>| match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    };
    vec![
        (
            "CreateApplication",
            code(
                api.create_application(pb::CreateApplicationRequest {
                    request_id: String::new(),
                    application: Some(draft("x")),
                })
                .await
                .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "BatchCreateApplications",
            code(
                api.batch_create_applications(pb::BatchCreateApplicationsRequest {
                    request_id: String::new(),
                    applications: vec![draft("x")],
                })
                .await
                .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "GetApplication",
            code(
                api.get_application(pb::GetApplicationRequest { id: id.to_owned() })
                    .await
                    .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "ListApplications",
            code(
                api.list_applications(pb::ListApplicationsRequest::default())
                    .await
                    .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "SearchApplications",
            code(
                api.search_applications(pb::SearchApplicationsRequest {
                    q: "x".to_owned(),
                    ..Default::default()
                })
                .await
                .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "CancelApplication",
            code(
                api.cancel_application(pb::CancelApplicationRequest {
                    id: id.to_owned(),
                    reason: None,
                })
                .await
                .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "StartProcessing",
            code(
                lifecycle
                    .start_processing(pb::TransitionRequest {
                        id: id.to_owned(),
                        ..Default::default()
                    })
                    .await
                    .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "CompleteApplication",
            code(
                lifecycle
                    .complete_application(pb::TransitionRequest {
                        id: id.to_owned(),
                        ..Default::default()
                    })
                    .await
                    .map(|_| tonic::Response::new(())),
            ),
        ),
        (
            "RejectApplication",
            code(
                lifecycle
                    .reject_application(pb::TransitionRequest {
                        id: id.to_owned(),
                        ..Default::default()
                    })
                    .await
                    .map(|_| tonic::Response::new(())),
            ),
        ),
    ]
}

#[tokio::test]
async fn every_rpc_refuses_missing_and_bad_tokens_with_a_clear_message() {
    let app = spawn_app().await;
    let id = create(&mut app.applicant("alice"), "чужая").await.id;

    let mut anonymous = app.anonymous();
    let status = anonymous
        .get_application(pb::GetApplicationRequest { id: id.clone() })
        .await
        .expect_err("no token");
    assert_code(&status, Code::Unauthenticated);
    assert!(
        status.message().to_lowercase().contains("token")
            || status.message().to_lowercase().contains("authorization"),
        "{}",
        status.message()
    );

    for (kind, authorization) in bad_authorizations() {
        let outcomes = call_everything(app.channel(), RawAuthorization(authorization), &id).await;
        for (rpc, code) in outcomes {
            assert_eq!(code, Code::Unauthenticated, "{rpc} with a {kind} token");
        }
    }
}

async fn outcomes_as(
    app: &TestApp,
    subject: &str,
    roles: &[Role],
    id: &str,
) -> Vec<(&'static str, Code)> {
    let authorization = format!("Bearer {}", app.token(subject, roles));
    call_everything(app.channel(), RawAuthorization(authorization), id).await
}

#[tokio::test]
async fn each_role_reaches_exactly_what_it_may() {
    let app = spawn_app().await;
    let mut expectations: Vec<(&str, &[Role], [Code; 9])> = Vec::new();
    use Code::{FailedPrecondition, NotFound, Ok as Fine, PermissionDenied as Denied};
    // Order: Create, Batch, Get, List, Search, Cancel, StartProcessing, Complete, Reject; the
    // service reaches Reject after completing, so only the status refuses it.
    expectations.push((
        "alice",
        &[Role::Applicant],
        [Fine, Fine, Fine, Fine, Fine, Fine, Denied, Denied, Denied],
    ));
    expectations.push((
        "bob",
        &[Role::Applicant],
        [
            Fine, Fine, NotFound, Fine, Fine, NotFound, Denied, Denied, Denied,
        ],
    ));
    expectations.push((
        "olga",
        &[Role::Operator],
        [
            Denied, Denied, Fine, Fine, Fine, Fine, Denied, Denied, Denied,
        ],
    ));
    expectations.push((
        "business-process",
        &[Role::Service],
        [
            Denied,
            Denied,
            Fine,
            Fine,
            Fine,
            Denied,
            Fine,
            Fine,
            FailedPrecondition,
        ],
    ));
    expectations.push((
        "nobody",
        &[],
        [
            Denied, Denied, Denied, Denied, Denied, Denied, Denied, Denied, Denied,
        ],
    ));

    for (subject, roles, expected) in expectations {
        let id = create(&mut app.applicant("alice"), "заявка Алисы").await.id;
        let outcomes = outcomes_as(&app, subject, roles, &id).await;
        for ((rpc, code), expected) in outcomes.into_iter().zip(expected) {
            assert_eq!(code, expected, "{subject} {roles:?} calling {rpc}");
        }
    }
}

#[tokio::test]
async fn lists_never_show_another_applicants_applications() {
    let app = spawn_app().await;
    create(&mut app.applicant("alice"), "Алиса 1").await;
    create(&mut app.applicant("alice"), "Алиса 2").await;
    create(&mut app.applicant("bob"), "Боб").await;

    let titles = |client: &mut crate::helpers::ApplicationsClient| {
        let mut client = client.clone();
        async move {
            let mut titles: Vec<String> = client
                .list_applications(pb::ListApplicationsRequest::default())
                .await
                .expect("list")
                .into_inner()
                .applications
                .into_iter()
                .map(|application| application.title)
                .collect();
            titles.sort();
            titles
        }
    };
    assert_eq!(
        titles(&mut app.applicant("alice")).await,
        ["Алиса 1", "Алиса 2"]
    );
    assert_eq!(titles(&mut app.applicant("bob")).await, ["Боб"]);
    assert_eq!(
        titles(&mut app.operator("olga")).await,
        ["Алиса 1", "Алиса 2", "Боб"]
    );
}

#[tokio::test]
async fn health_and_reflection_stay_open() {
    let app = spawn_app().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no token");
    let _ = Duration::from_secs(0);
}
