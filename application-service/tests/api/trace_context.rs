//! A write made in a caller's trace (W3C `traceparent` in gRPC metadata or an HTTP header)
//! leaves its events in that trace: the outbox row and the published message carry a
//! `traceparent` with the caller's trace id, so the trace goes on in whoever consumes them.

use std::{collections::HashSet, time::Duration};

use futures::StreamExt;
use reqwest::Method;
use zayavki_common::{
    amqp::{declare_topology, topology, traceparent_header},
    telemetry::{TRACEPARENT, trace_id_of},
};
use zayavki_proto::applications::v1 as pb;
use zayavki_testkit::TestBroker;

use crate::{
    helpers::{create_request, draft, spawn_app, spawn_app_publishing_to},
    rest_helpers::{Rest, id_of, new_application, send},
};

const PATIENCE: Duration = Duration::from_secs(60);
const CALLER: &str = "00-5c0ffee0d15ea5e5ca11ab1e0ddba11a-1234567890abcdef-01";
const CALLER_TRACE_ID: &str = "5c0ffee0d15ea5e5ca11ab1e0ddba11a";
const CALLER_SPAN_ID: &str = "1234567890abcdef";

/// The `traceparent` of every event stored for `application_id`.
async fn stored_traceparents(pool: &sqlx::PgPool, application_id: &str) -> Vec<Option<String>> {
    sqlx::query_scalar(
        "SELECT traceparent FROM outbox WHERE body->>'applicationId' = $1 ORDER BY change_xid, id",
    )
    .bind(application_id)
    .fetch_all(pool)
    .await
    .expect("outbox readable")
}

fn in_callers_trace(traceparent: Option<&str>) {
    let traceparent = traceparent.expect("the event carries a traceparent");
    assert_eq!(
        trace_id_of(traceparent).as_deref(),
        Some(CALLER_TRACE_ID),
        "{traceparent}"
    );
    assert!(
        !traceparent.contains(CALLER_SPAN_ID),
        "the service's own span is the parent: {traceparent}"
    );
}

#[tokio::test]
async fn a_grpc_create_in_a_callers_trace_publishes_its_event_in_that_trace() {
    let broker = TestBroker::fresh().await.expect("test vhost");
    let (_connection, channel) = broker.channel().await.expect("broker reachable");
    declare_topology(&channel).await.expect("topology declared");
    let mut events = broker
        .subscribe(&channel, topology::APPLICATIONS_EVENTS, "#")
        .await
        .expect("subscribed");
    let app = spawn_app_publishing_to(&broker).await;

    let mut request = tonic::Request::new(create_request("Ложки чайные"));
    request
        .metadata_mut()
        .insert(TRACEPARENT, CALLER.parse().expect("ASCII metadata"));
    let created = app
        .applicant("alice")
        .create_application(request)
        .await
        .expect("application created")
        .into_inner();

    let stored = stored_traceparents(&app.pool, &created.id).await;
    assert_eq!(stored.len(), 1);
    in_callers_trace(stored[0].as_deref());
    let delivery = tokio::time::timeout(PATIENCE, events.next())
        .await
        .expect("the event is published in time")
        .expect("the consumer is open")
        .expect("a delivery");
    let published = traceparent_header(&delivery.properties);
    in_callers_trace(published.as_deref());
    assert_eq!(published, stored[0], "the relay publishes what was stored");
}

#[tokio::test]
async fn a_batch_and_a_rest_create_in_a_callers_trace_store_their_events_in_that_trace() {
    let app = spawn_app().await;

    let mut request = tonic::Request::new(pb::BatchCreateApplicationsRequest {
        request_id: String::new(),
        applications: vec![draft("первая"), draft("вторая")],
    });
    request
        .metadata_mut()
        .insert(TRACEPARENT, CALLER.parse().expect("ASCII metadata"));
    let batch = app
        .applicant("alice")
        .batch_create_applications(request)
        .await
        .expect("batch created")
        .into_inner();
    let reply = send(
        Rest::applicant(&app, "bob")
            .request(Method::POST, "/applications")
            .header(TRACEPARENT, CALLER)
            .json(&new_application("Вилки")),
    )
    .await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{reply:?}");

    let mut ids: Vec<String> = batch
        .applications
        .iter()
        .map(|application| application.id.clone())
        .collect();
    ids.push(id_of(&reply.body));
    for id in ids {
        let stored = stored_traceparents(&app.pool, &id).await;
        assert_eq!(stored.len(), 1, "one event for {id}");
        in_callers_trace(stored[0].as_deref());
    }
}

#[tokio::test]
async fn creates_without_a_traceparent_each_start_a_trace_of_their_own() {
    let app = spawn_app().await;
    let mut client = app.applicant("alice");

    let mut trace_ids = HashSet::new();
    for title in ["первая", "вторая"] {
        let created = client
            .create_application(create_request(title))
            .await
            .expect("application created")
            .into_inner();
        let stored = stored_traceparents(&app.pool, &created.id).await;
        let traceparent = stored[0].as_deref().expect("a traceparent");
        let trace_id = trace_id_of(traceparent).expect("a valid traceparent");
        assert_ne!(trace_id, CALLER_TRACE_ID);
        trace_ids.insert(trace_id);
    }
    assert_eq!(trace_ids.len(), 2, "one trace per request");
}

#[tokio::test]
async fn a_batch_without_a_traceparent_files_all_its_events_in_one_trace_of_its_own() {
    let app = spawn_app().await;

    let batch = app
        .applicant("alice")
        .batch_create_applications(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: vec![draft("первая"), draft("вторая"), draft("третья")],
        })
        .await
        .expect("batch created")
        .into_inner();

    let mut trace_ids = HashSet::new();
    for application in &batch.applications {
        let stored = stored_traceparents(&app.pool, &application.id).await;
        assert_eq!(stored.len(), 1, "one event for {}", application.id);
        let traceparent = stored[0].as_deref().expect("a traceparent");
        trace_ids.insert(trace_id_of(traceparent).expect("a valid traceparent"));
    }
    assert_eq!(trace_ids.len(), 1, "one request, one trace: {trace_ids:?}");
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored_and_the_create_succeeds_in_a_trace_of_its_own() {
    let app = spawn_app().await;

    let mut request = tonic::Request::new(create_request("Ложки"));
    request.metadata_mut().insert(
        TRACEPARENT,
        "00-not-a-trace-01".parse().expect("ASCII metadata"),
    );
    let created = app
        .applicant("alice")
        .create_application(request)
        .await
        .expect("application created")
        .into_inner();

    let stored = stored_traceparents(&app.pool, &created.id).await;
    let traceparent = stored[0].as_deref().expect("a traceparent");
    assert!(trace_id_of(traceparent).is_some(), "{traceparent}");
}
