//! `ApplicationExport.ExportApplications`: the server stream that feeds reports.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tonic::{Code, Status, Streaming};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use uuid::Uuid;
use zayavki_identity::Role;
use zayavki_proto::applications::v1 as pb;

use crate::helpers::{
    ExportClient, TestApp, assert_code, spawn_app, spawn_app_with, violated_fields,
};

/// Every message of one export.
struct Exported {
    total: Option<i64>,
    messages: Vec<pb::ExportApplicationsResponse>,
}

impl Exported {
    fn ids(&self) -> Vec<&str> {
        self.rows().map(|row| row.id.as_str()).collect()
    }

    fn rows(&self) -> impl Iterator<Item = &pb::Application> {
        self.messages
            .iter()
            .flat_map(|message| message.applications.iter())
    }
}

async fn export(
    client: &mut ExportClient,
    request: pb::ExportApplicationsRequest,
) -> Result<Exported, Status> {
    let mut stream = client.export_applications(request).await?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    let total = messages.first().and_then(|first| first.total);
    assert!(
        messages.iter().skip(1).all(|later| later.total.is_none()),
        "only the first message carries the total"
    );
    Ok(Exported { total, messages })
}

/// Starts exporting every row in chunks of `chunk_size` (0 for the default), for a test that
/// reads the messages at its own pace.
async fn start_export(
    client: &mut ExportClient,
    chunk_size: i32,
) -> Streaming<pb::ExportApplicationsResponse> {
    client
        .export_applications(pb::ExportApplicationsRequest {
            chunk_size,
            ..all()
        })
        .await
        .expect("export starts")
        .into_inner()
}

/// The status of an export that must be refused.
async fn refused(client: &mut ExportClient, request: pb::ExportApplicationsRequest) -> Status {
    export(client, request).await.err().expect("refused")
}

/// The fields named by an export refused as invalid.
async fn invalid_fields(
    client: &mut ExportClient,
    request: pb::ExportApplicationsRequest,
) -> Vec<String> {
    let status = refused(client, request).await;
    assert_code(&status, Code::InvalidArgument);
    violated_fields(&status)
}

/// Inserts one application as stored by the service; returns its id.
async fn insert(pool: &PgPool, applicant: &str, status: &str, applied_at: &str) -> String {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO applications (id, applicant, title, items, total_amount_minor, status, \
         applied_at, updated_at) VALUES ($1, $2, $3, \
         '[{\"name\": \"Ложка\", \"quantity\": 2, \"unit_price\": \"35.50\"}]', 7100, $4, \
         $5::timestamptz, $5::timestamptz)",
    )
    .bind(id)
    .bind(applicant)
    .bind(format!("Заявка от {applied_at}"))
    .bind(status)
    .bind(applied_at)
    .execute(pool)
    .await
    .expect("inserted");
    id.to_string()
}

fn all() -> pb::ExportApplicationsRequest {
    pb::ExportApplicationsRequest::default()
}

#[tokio::test]
async fn filters_select_the_rows_in_the_order_asked_for() {
    let app = spawn_app().await;
    // Filed out of id order, so the two orders differ.
    let late = insert(&app.pool, "alice", "NEW", "2025-03-03T10:00:00Z").await;
    let early = insert(&app.pool, "bob", "NEW", "2025-03-01T09:00:00Z").await;
    let middle = insert(&app.pool, "alice", "CANCELLED", "2025-03-02T12:00:00Z").await;
    let outside = insert(&app.pool, "bob", "NEW", "2025-04-01T00:00:00Z").await;
    let mut operator = app.exporter("olga", &[Role::Operator]);

    let by_applied_at = export(
        &mut operator,
        pb::ExportApplicationsRequest {
            applied_from: "2025-03-01".to_owned(),
            applied_to: "2025-03-31".to_owned(),
            order: pb::ExportOrder::AppliedAt as i32,
            ..all()
        },
    )
    .await
    .expect("export");
    assert_eq!(
        by_applied_at.ids(),
        [early.as_str(), middle.as_str(), late.as_str()]
    );
    assert_eq!(by_applied_at.total, Some(3));

    let by_id = export(&mut operator, all()).await.expect("export");
    assert_eq!(
        by_id.ids(),
        [
            late.as_str(),
            early.as_str(),
            middle.as_str(),
            outside.as_str()
        ]
    );
    assert_eq!(by_id.total, Some(4));

    let new_in_march = export(
        &mut operator,
        pb::ExportApplicationsRequest {
            applied_to: "2025-03-31".to_owned(),
            status: vec![pb::ApplicationStatus::New as i32],
            ..all()
        },
    )
    .await
    .expect("export");
    assert_eq!(new_in_march.ids(), [late.as_str(), early.as_str()]);

    let row = by_id.rows().next().expect("a row");
    assert_eq!(row.applicant, "alice");
    assert_eq!(row.total_amount, "71.00");
    assert_eq!(row.items[0].unit_price, "35.50");
    assert_eq!(row.status, pb::ApplicationStatus::New as i32);
}

#[tokio::test]
async fn rows_come_in_chunks_and_the_total_counts_them_all() {
    let app = spawn_app().await;
    let mut filed = Vec::new();
    for day in 1..=7 {
        filed.push(
            insert(
                &app.pool,
                "alice",
                "NEW",
                &format!("2025-05-0{day}T08:00:00Z"),
            )
            .await,
        );
    }
    let mut service = app.exporter("reports", &[Role::Service]);

    let exported = export(
        &mut service,
        pb::ExportApplicationsRequest {
            chunk_size: 3,
            ..all()
        },
    )
    .await
    .expect("export");

    let sizes: Vec<usize> = exported
        .messages
        .iter()
        .map(|message| message.applications.len())
        .collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(exported.total, Some(7));
    assert_eq!(
        exported.ids(),
        filed.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_empty_export_is_one_message_with_a_zero_total() {
    let app = spawn_app().await;
    insert(&app.pool, "alice", "NEW", "2025-05-01T08:00:00Z").await;
    let mut operator = app.exporter("olga", &[Role::Operator]);

    let exported = export(
        &mut operator,
        pb::ExportApplicationsRequest {
            applied_from: "2026-01-01".to_owned(),
            ..all()
        },
    )
    .await
    .expect("export");

    assert_eq!(exported.messages.len(), 1);
    assert_eq!(exported.total, Some(0));
    assert!(exported.messages[0].applications.is_empty());
}

#[tokio::test]
async fn an_applicant_exports_only_their_own() {
    let app = spawn_app().await;
    let own = insert(&app.pool, "alice", "NEW", "2025-05-01T08:00:00Z").await;
    let bobs = insert(&app.pool, "bob", "NEW", "2025-05-02T08:00:00Z").await;
    let mut alice = app.exporter("alice", &[Role::Applicant]);

    let everything = export(&mut alice, all()).await.expect("export");
    assert_eq!(everything.ids(), [own.as_str()]);
    assert_eq!(everything.total, Some(1));

    let named = pb::ExportApplicationsRequest {
        applicant: "alice".to_owned(),
        application_ids: vec![own.clone(), bobs.clone()],
        ..all()
    };
    assert_eq!(
        export(&mut alice, named).await.expect("export").ids(),
        [own.as_str()]
    );

    let someone_else = pb::ExportApplicationsRequest {
        applicant: "bob".to_owned(),
        ..all()
    };
    assert_code(
        &refused(&mut alice, someone_else.clone()).await,
        Code::PermissionDenied,
    );

    let mut operator = app.exporter("olga", &[Role::Operator]);
    let bob_only = export(&mut operator, someone_else).await.expect("export");
    assert_eq!(bob_only.ids(), [bobs.as_str()]);
}

#[tokio::test]
async fn application_ids_are_limited_and_checked() {
    let app = spawn_app().await;
    let first = insert(&app.pool, "alice", "NEW", "2025-05-01T08:00:00Z").await;
    insert(&app.pool, "alice", "NEW", "2025-05-02T08:00:00Z").await;
    let third = insert(&app.pool, "bob", "NEW", "2025-05-03T08:00:00Z").await;
    let mut operator = app.exporter("olga", &[Role::Operator]);

    let chosen = export(
        &mut operator,
        pb::ExportApplicationsRequest {
            application_ids: vec![third.clone(), Uuid::now_v7().to_string(), first.clone()],
            ..all()
        },
    )
    .await
    .expect("export");
    assert_eq!(chosen.ids(), [first.as_str(), third.as_str()]);
    assert_eq!(chosen.total, Some(2));

    let thousand: Vec<String> = (0..1_000).map(|_| Uuid::now_v7().to_string()).collect();
    let at_limit = export(
        &mut operator,
        pb::ExportApplicationsRequest {
            application_ids: thousand.clone(),
            ..all()
        },
    )
    .await
    .expect("1,000 ids are allowed");
    assert_eq!(at_limit.total, Some(0));

    let too_many = pb::ExportApplicationsRequest {
        application_ids: [thousand, vec![first.clone()]].concat(),
        ..all()
    };
    assert_eq!(
        invalid_fields(&mut operator, too_many).await,
        ["application_ids"]
    );

    let malformed = pb::ExportApplicationsRequest {
        application_ids: vec![first, "not-a-uuid".to_owned()],
        ..all()
    };
    assert_eq!(
        invalid_fields(&mut operator, malformed).await,
        ["application_ids[1]"]
    );
}

#[tokio::test]
async fn wrong_fields_are_named() {
    let app = spawn_app().await;
    let mut operator = app.exporter("olga", &[Role::Operator]);

    let two_wrong = pb::ExportApplicationsRequest {
        applied_from: "yesterday".to_owned(),
        chunk_size: 5_001,
        ..all()
    };
    assert_eq!(
        invalid_fields(&mut operator, two_wrong).await,
        ["applied_from", "chunk_size"]
    );

    let mut unknown_order = all();
    unknown_order.order = 7;
    let mut unspecified_status = all();
    unspecified_status.status = vec![0];
    let mut negative_chunk_size = all();
    negative_chunk_size.chunk_size = -1;
    for (request, field) in [
        (unknown_order, "order"),
        (unspecified_status, "status[0]"),
        (negative_chunk_size, "chunk_size"),
    ] {
        assert_eq!(invalid_fields(&mut operator, request).await, [field]);
    }
}

#[tokio::test]
async fn a_token_without_a_role_or_no_token_gets_nothing() {
    let app = spawn_app().await;
    insert(&app.pool, "alice", "NEW", "2025-05-01T08:00:00Z").await;

    let mut roleless = app.exporter("nobody", &[]);
    assert_code(&refused(&mut roleless, all()).await, Code::PermissionDenied);

    let mut anonymous = app.anonymous_exporter();
    assert_code(&refused(&mut anonymous, all()).await, Code::Unauthenticated);

    for roles in [[Role::Operator], [Role::Service]] {
        let mut allowed = app.exporter("staff", &roles);
        assert_eq!(
            export(&mut allowed, all()).await.expect("export").total,
            Some(1)
        );
    }
}

/// Rows large enough that the whole export (about 70 MB) cannot sit in socket and HTTP/2
/// buffers: most of it stays in PostgreSQL until the reader asks for it. The text is in the
/// reasons, which the search index does not hold, so indexing the rows stays cheap. Ids grow
/// with `n`; the last row's title carries `LAST_ROW_WORD`.
async fn insert_bulky_rows(pool: &PgPool, count: i64) {
    sqlx::query(
        "INSERT INTO applications (id, applicant, title, items, total_amount_minor, status, \
         applied_at, updated_at, cancel_reason, cancelled_at, rejection_reason) \
         SELECT lpad(to_hex(n), 32, '0')::uuid, 'bulk-' || (n % 7), \
                CASE WHEN n = $1 THEN 'Заявка ' || n || ' ' || $2 ELSE 'Заявка ' || n END, \
                '[{\"name\": \"Ложка\", \"quantity\": 2, \"unit_price\": \"35.50\"}]', 7100, \
                'CANCELLED', at, at, repeat('причина ', 125), at, repeat('отказано ', 100) \
         FROM generate_series(1, $1) AS n, \
              LATERAL (SELECT timestamptz '2025-01-01' + n * interval '1 second' AS at) AS filed",
    )
    .bind(count)
    .bind(LAST_ROW_WORD)
    .execute(pool)
    .await
    .expect("bulk rows inserted");
}

const LAST_ROW_WORD: &str = "zzlastbulkrow";

fn bulky_id(n: i64) -> String {
    Uuid::from_u128(u128::try_from(n).expect("positive")).to_string()
}

/// The service indexes rows written behind its back on a timer; waits until the last bulky row
/// is searchable, so that indexing is over before memory is measured.
async fn wait_until_indexed(app: &TestApp) {
    let mut operator = app.operator("olga");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        poll.tick().await;
        let hits = operator
            .search_applications(pb::SearchApplicationsRequest {
                q: LAST_ROW_WORD.to_owned(),
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner()
            .hits;
        if !hits.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bulky rows were never indexed"
        );
    }
}

/// This process's resident set (the service runs in it).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kibibytes: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB");
    kibibytes * 1024
}

#[tokio::test]
async fn a_slow_reader_gets_every_row_once_in_order_while_memory_stays_bounded() {
    const ROWS: i64 = 20_000;
    // Holding the whole export would take over twice this (about 70 MiB here); a bounded
    // stream takes next to nothing.
    const MEMORY_LIMIT_BYTES: u64 = 32 * 1024 * 1024;
    let app = spawn_app().await;
    insert_bulky_rows(&app.pool, ROWS).await;
    wait_until_indexed(&app).await;
    let mut service = app.exporter("reports", &[Role::Service]);
    let before = resident_bytes();

    let mut stream = start_export(&mut service, 50).await;
    // The reader takes a message, then waits for the next tick: far slower than the server
    // produces them.
    let mut reader_pace = tokio::time::interval(Duration::from_millis(2));
    let mut expected = 1;
    let mut total = None;
    let mut payload_bytes = 0;
    let mut peak = before;
    while let Some(message) = stream.message().await.expect("message") {
        if expected == 1 {
            total = message.total;
        }
        for row in &message.applications {
            assert_eq!(row.id, bulky_id(expected), "rows in id order, each once");
            payload_bytes += row.cancel_reason.as_deref().map_or(0, str::len)
                + row.rejection_reason.as_deref().map_or(0, str::len);
            expected += 1;
        }
        drop(message);
        peak = peak.max(resident_bytes());
        reader_pace.tick().await;
    }

    assert_eq!(expected - 1, ROWS, "every row arrived");
    assert_eq!(total, Some(ROWS));
    assert!(
        payload_bytes as u64 > MEMORY_LIMIT_BYTES,
        "the export ({payload_bytes} bytes of text) outweighs the memory limit"
    );
    let growth = peak.saturating_sub(before);
    assert!(
        growth < MEMORY_LIMIT_BYTES,
        "resident memory grew by {} MiB during the export",
        growth / (1024 * 1024)
    );
}

/// Backends of the test database running the export's read.
async fn export_backends(pool: &PgPool) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND xact_start IS NOT NULL \
         AND query LIKE 'SELECT id, applicant%ORDER BY id'",
    )
    .fetch_all(pool)
    .await
    .expect("pg_stat_activity")
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_the_read_and_its_transaction() {
    let app = spawn_app().await;
    insert_bulky_rows(&app.pool, 20_000).await;
    let mut operator = app.exporter("olga", &[Role::Operator]);

    let mut stream = start_export(&mut operator, 1).await;
    let first = stream.message().await.expect("message").expect("first");
    assert_eq!(first.total, Some(20_000));
    let reading = export_backends(&app.pool).await;
    assert_eq!(reading.len(), 1, "one connection serves the export");

    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        poll.tick().await;
        let gone: bool =
            sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(reading[0])
                .fetch_one(&app.pool)
                .await
                .expect("pg_stat_activity");
        if gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned export still holds its connection"
        );
    }
    let again = export(
        &mut operator,
        pb::ExportApplicationsRequest {
            application_ids: vec![bulky_id(1)],
            ..all()
        },
    )
    .await
    .expect("the service keeps exporting");
    assert_eq!(again.total, Some(1));
}

#[tokio::test]
async fn an_export_over_the_cap_waits_for_the_running_one_then_completes() {
    const ROWS: i64 = 20_000;
    let app = spawn_app_with(|settings| settings.export_concurrency = 1).await;
    insert_bulky_rows(&app.pool, ROWS).await;
    let mut first = app.exporter("reports", &[Role::Service]);
    // Its own connection: the first export's unread rows must not be what holds it up.
    let mut second = app
        .exporter_on_own_connection("reports", &[Role::Service])
        .await;

    // The first export holds the only slot until the service has read its last row, which waits
    // for the reader: the rows (about 70 MB) are far more than the buffers on the way hold.
    let mut running = start_export(&mut first, 0).await;
    let opening = running.message().await.expect("message").expect("first");
    assert_eq!(opening.total, Some(ROWS));
    let mut waiting = tokio::spawn(async move {
        export(
            &mut second,
            pb::ExportApplicationsRequest {
                application_ids: vec![bulky_id(1)],
                ..all()
            },
        )
        .await
    });
    // Nothing announces a call waiting for a slot; given this long, an export that did not
    // wait would have answered.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "the second export ran while the first held the only slot"
    );

    let mut rows = opening.applications.len() as i64;
    while let Some(message) = running.message().await.expect("message") {
        rows += message.applications.len() as i64;
    }
    assert_eq!(rows, ROWS, "the first export completes");
    let second = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the second export runs once the first is over")
        .expect("the export task completes")
        .expect("the second export completes");
    assert_eq!(second.total, Some(1));
    assert_eq!(second.ids(), [bulky_id(1)]);
}

#[tokio::test]
async fn health_reports_the_export_service() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel());
    let mut updates = health
        .watch(HealthCheckRequest {
            service: "applications.v1.ApplicationExport".to_owned(),
        })
        .await
        .expect("a known service is watched")
        .into_inner();
    let serving = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(update) = updates.message().await.expect("health update") {
            if update.status == ServingStatus::Serving as i32 {
                return true;
            }
        }
        false
    })
    .await
    .expect("SERVING within 10 s");
    assert!(serving, "the health stream ended before SERVING");
}
