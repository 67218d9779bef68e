//! One trace from a create to the purchase report: the create's `traceparent` reaches
//! business-process with the event, is kept with the process, and goes on in every step — its
//! calls to application-service (whose events then carry it) and its report job.

use business_process::domain::ProcessState;
use lapin::{
    BasicProperties,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use serde_json::json;
use uuid::Uuid;
use zayavki_common::{
    amqp::topology,
    telemetry::{TRACEPARENT, trace_id_of},
};
use zayavki_proto::applications::v1 as applications;

use crate::helpers::{TestSystem, spawn_system};

const CALLER: &str = "00-7ea5e1ec7ed0c0ffee0ddba11ab1e5ed-0123456789abcdef-01";
const CALLER_TRACE_ID: &str = "7ea5e1ec7ed0c0ffee0ddba11ab1e5ed";

fn trace_ids(traceparents: &[Option<String>]) -> Vec<Option<String>> {
    traceparents
        .iter()
        .map(|traceparent| traceparent.as_deref().and_then(trace_id_of))
        .collect()
}

async fn process_traceparent(system: &TestSystem, application_id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT traceparent FROM processes WHERE application_id = $1")
        .bind(application_id)
        .fetch_one(&system.process_pool)
        .await
        .expect("the process is stored")
}

#[tokio::test]
async fn a_create_in_a_callers_trace_is_followed_through_the_process_to_its_report_job() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;

    let mut request = tonic::Request::new(applications::CreateApplicationRequest {
        request_id: String::new(),
        application: Some(applications::NewApplication {
            title: "Ложки чайные".to_owned(),
            description: None,
            items: vec![applications::ApplicationItem {
                name: "Ложка".to_owned(),
                quantity: 2,
                unit_price: "100.00".to_owned(),
            }],
        }),
    });
    request
        .metadata_mut()
        .insert(TRACEPARENT, CALLER.parse().expect("ASCII metadata"));
    let filed = system
        .applicant("alice")
        .create_application(request)
        .await
        .expect("application filed")
        .into_inner();
    let id: Uuid = filed.id.parse().expect("a UUID");
    watcher.wait_for(id, ProcessState::Completed).await;

    // application-service stored its events in the trace of the request that made each change:
    // the create, then business-process's calls to start and complete the processing.
    let events: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT traceparent FROM outbox WHERE body->>'applicationId' = $1 ORDER BY change_xid, id",
    )
    .bind(id.to_string())
    .fetch_all(&system.applications_pool)
    .await
    .expect("application-service's outbox readable");
    assert_eq!(events.len(), 3, "created, processing, completed");
    assert_eq!(
        trace_ids(&events),
        vec![Some(CALLER_TRACE_ID.to_owned()); 3]
    );
    let report_id: Uuid = system
        .process(id)
        .await
        .purchase_report_id
        .expect("a purchase report requested")
        .parse()
        .expect("a UUID");
    let job: Option<String> =
        sqlx::query_scalar("SELECT traceparent FROM outbox WHERE message_id = $1")
            .bind(report_id)
            .fetch_one(&system.process_pool)
            .await
            .expect("the report job is in business-process's outbox");
    assert_eq!(
        trace_ids(&[job]),
        [Some(CALLER_TRACE_ID.to_owned())],
        "the report job goes on in the create's trace"
    );
}

#[tokio::test]
async fn an_event_with_a_traceparent_starts_and_steps_its_process_in_that_trace() {
    let system = spawn_system(|_| {}).await;
    let mut watcher = system.watch_processes().await;
    // application-service has never heard of it: the process starts, then is cancelled.
    let application_id = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let body = json!({
        "eventId": event_id,
        "type": "application.created",
        "occurredAt": "2026-12-01T10:00:00Z",
        "applicationId": application_id,
        "applicant": "alice",
        "status": "NEW",
        "version": 1,
        "totalAmount": "100.00",
        "title": "Ложки",
    });
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from(TRACEPARENT),
        AMQPValue::LongString(LongString::from(CALLER)),
    );

    let (_connection, channel) = crate::messages::confirming_channel(&system).await;
    channel
        .basic_publish(
            ShortString::from(""),
            ShortString::from(topology::BUSINESS_PROCESS_APPLICATION_EVENTS),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default()
                .with_message_id(ShortString::from(event_id.to_string()))
                .with_delivery_mode(2)
                .with_headers(headers),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    watcher
        .wait_for(application_id, ProcessState::Cancelled)
        .await;

    let stored = process_traceparent(&system, application_id)
        .await
        .expect("the process keeps its trace");
    assert_eq!(trace_id_of(&stored).as_deref(), Some(CALLER_TRACE_ID));
    assert_ne!(stored, CALLER, "the last step's own span is stored");
}
