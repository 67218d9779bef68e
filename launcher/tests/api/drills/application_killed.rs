//! Drill 5: application-service is SIGKILLed during concurrent creates from several clients and
//! restarted by the supervisor; the clients retry what failed with the same `request_id`. Every
//! acknowledged create is present, each has its process, and none was created or processed
//! twice.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rustix::process::Signal;
use tokio::sync::watch;
use tonic::{Code, transport::Channel};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    CreateApplicationRequest, application_service_client::ApplicationServiceClient,
};

use super::{
    Tally, count, database, drained, drill_settings, repeated_steps, small_application, token,
};
use crate::helpers::{authorized, send, start_system_with};

const CLIENTS: [&str; 4] = ["alice", "boris", "vera", "gleb"];
const CREATES_PER_CLIENT: usize = 60;
/// Acknowledged creates (of all clients) before the kill.
const KILL_AFTER: usize = 60;
/// Attempts per create: enough to outlast a restart.
const MAX_ATTEMPTS: usize = 300;
const RETRY_PAUSE: Duration = Duration::from_millis(100);

#[tokio::test]
async fn creates_survive_application_service_being_killed_and_each_is_processed_once() {
    let system = start_system_with(&drill_settings(&[(
        "ZAYAVKI_SERVICES",
        "application,process,sink",
    )]))
    .await;
    let address = system.state().addresses.application.expect("runs").grpc;
    let killed = system.service_pid("application-service");
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let (progress, mut watched) = watch::channel(0_usize);

    let mut clients = Vec::new();
    for client in CLIENTS {
        let (acknowledged, progress) = (acknowledged.clone(), progress.clone());
        clients.push(tokio::spawn(async move {
            let mut filed = BTreeMap::new();
            let mut retries = 0;
            let mut applications = ApplicationServiceClient::new(lazy_channel(address));
            let token = token(client, Role::Applicant);
            for index in 0..CREATES_PER_CLIENT {
                let request_id = format!("{client}-{index}");
                let (id, retried) = create(&mut applications, &token, &request_id, index).await;
                retries += retried;
                filed.insert(request_id, id);
                let done = acknowledged.fetch_add(1, Ordering::SeqCst) + 1;
                progress.send_replace(done);
            }
            (filed, retries)
        }));
    }
    watched
        .wait_for(|done| *done >= KILL_AFTER)
        .await
        .expect("the clients run");
    send(killed, Signal::KILL);
    let mut filed = BTreeMap::new();
    let mut retries = 0;
    for client in clients {
        let (created, retried) = client.await.expect("a client finishes");
        filed.extend(created);
        retries += retried;
    }
    let restarted = system.state();
    let starts = restarted
        .service("application-service")
        .map(|service| service.starts);
    assert_eq!(starts, Some(2), "killed once, started again: {restarted:?}");

    let sent = CLIENTS.len() * CREATES_PER_CLIENT;
    let ids: Vec<uuid::Uuid> = filed
        .values()
        .map(|id| id.parse().expect("an application id"))
        .collect();
    let applications_db = database(&system, "DATABASE_URL").await;
    let present: i64 = sqlx::query_scalar("SELECT count(*) FROM applications WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_one(&applications_db)
        .await
        .expect("present");
    let all_applications = count(&applications_db, "SELECT count(*) FROM applications").await;
    let processes = database(&system, "PROCESS_DATABASE_URL").await;
    let completed = drained("every process completing", || async {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM processes WHERE state = 'COMPLETED' AND application_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(&processes)
        .await
        .ok()?;
        (done >= ids.len() as i64).then_some(done)
    })
    .await;
    assert!(completed.is_some(), "{}", system.transcript());
    let all_processes = count(&processes, "SELECT count(*) FROM processes").await;
    let repeated = repeated_steps(&processes).await;
    println!("drill 5: {retries} retried calls, {all_applications} applications stored");

    Tally {
        drill: "drill 5 (application-service killed during concurrent creates)",
        sent,
        acknowledged: acknowledged.load(Ordering::SeqCst),
        present: usize::try_from(present.min(completed.unwrap_or_default())).unwrap_or_default(),
        duplicated: usize::try_from(
            (all_applications - sent as i64) + (all_processes - sent as i64) + repeated,
        )
        .unwrap_or_default()
            + (sent - filed.len()),
    }
    .check();
    assert!(retries > 0, "the kill interrupted the creates");
}

/// A channel that connects on first use and again after the server went away.
fn lazy_channel(address: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

/// Files one application, retrying with the same `request_id` while the service is away;
/// answers its id and how many retries it took.
async fn create(
    applications: &mut ApplicationServiceClient<Channel>,
    token: &str,
    request_id: &str,
    index: usize,
) -> (String, usize) {
    for attempt in 0..MAX_ATTEMPTS {
        let request = authorized(
            CreateApplicationRequest {
                request_id: request_id.to_owned(),
                application: Some(small_application(format!("Маркеры, заявка № {index}"))),
            },
            token,
        );
        match applications.create_application(request).await {
            Ok(filed) => return (filed.into_inner().id, attempt),
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
                ) =>
            {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(status) => panic!("{request_id}: {status:?}"),
        }
    }
    panic!("{request_id} was not acknowledged after {MAX_ATTEMPTS} attempts")
}
