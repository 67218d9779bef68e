//! Statements on the `processes` table.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;
use zayavki_common::{money::Money, telemetry::current_span_traceparent};

use crate::domain::{Process, ProcessState};

const COLUMNS: &str = "application_id, applicant, title, total_amount_minor, applied_at, state, \
     reason, application_version, version, decision_due_at, purchase_report_id, created_at, \
     updated_at, traceparent, early_events";
const WITH_WORK: &str = "state IN ('STARTING', 'APPROVING', 'REJECTING', 'CANCELLING')";

#[derive(sqlx::FromRow)]
struct ProcessRow {
    application_id: Uuid,
    applicant: String,
    title: String,
    total_amount_minor: i64,
    applied_at: DateTime<Utc>,
    state: String,
    reason: Option<String>,
    application_version: i64,
    version: i64,
    decision_due_at: Option<DateTime<Utc>>,
    purchase_report_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    traceparent: Option<String>,
    early_events: bool,
}

impl TryFrom<ProcessRow> for Process {
    type Error = anyhow::Error;

    fn try_from(row: ProcessRow) -> anyhow::Result<Self> {
        Ok(Process {
            application_id: row.application_id,
            applicant: row.applicant,
            title: row.title,
            total_amount: Money::from_minor(row.total_amount_minor).ok_or_else(|| {
                anyhow::anyhow!("negative total in process {}", row.application_id)
            })?,
            applied_at: row.applied_at,
            state: row.state.parse().map_err(anyhow::Error::msg)?,
            reason: row.reason,
            application_version: row.application_version,
            version: row.version,
            decision_due_at: row.decision_due_at,
            purchase_report_id: row.purchase_report_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            early_events: row.early_events,
        })
    }
}

fn parse(row: Option<ProcessRow>) -> anyhow::Result<Option<Process>> {
    row.map(Process::try_from).transpose()
}

/// What [`start_at_once`] did with the first event of an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstEvent {
    /// The process was created with its first step, and the message recorded as handled.
    Started,
    /// The message was handled before: nothing changed.
    Duplicate,
    /// The message is now recorded as handled; the application had a process already.
    ProcessExists,
    /// Later events of the application are waiting for it: nothing was written, and the
    /// caller takes the way that applies them.
    EarlyEventsWaiting,
}

/// Starts the process of a newly filed application (STARTING, in the trace of the span
/// executing) and records `message_id` as handled by `consumer` and the first step `step` with
/// `details`, in one statement that commits on its own: a single round trip instead of a
/// transaction of five for the most common event. It does nothing when events of the
/// application arrived before it ([`FirstEvent::EarlyEventsWaiting`]); those arrive on the
/// same consumer lane as this one, so none can appear meanwhile.
pub async fn start_at_once(
    pool: &PgPool,
    consumer: &str,
    message_id: Uuid,
    process: &Process,
    step: &str,
    details: serde_json::Value,
) -> anyhow::Result<FirstEvent> {
    let query = sqlx::query_as(
        "WITH clear AS ( \
             SELECT NOT EXISTS (SELECT 1 FROM deferred_events WHERE application_id = $3) AS clear), \
         handled AS ( \
             INSERT INTO inbox (consumer, message_id) SELECT $1, $2 FROM clear WHERE clear \
             ON CONFLICT DO NOTHING RETURNING 1), \
         started AS ( \
             INSERT INTO processes (application_id, applicant, title, total_amount_minor, \
                 applied_at, state, application_version, traceparent, early_events) \
             SELECT $3, $4, $5, $6, $7, $8, $9, $10, false FROM handled \
             ON CONFLICT (application_id) DO NOTHING RETURNING application_id), \
         recorded AS ( \
             INSERT INTO process_steps (application_id, step, details) \
             SELECT application_id, $11, $12 FROM started) \
         SELECT (SELECT clear FROM clear), EXISTS (SELECT 1 FROM handled), \
             EXISTS (SELECT 1 FROM started)",
    )
    .bind(consumer)
    .bind(message_id);
    let (clear, handled, started): (bool, bool, bool) = bind_new(query, process)
        .bind(step)
        .bind(sqlx::types::Json(details))
        .fetch_one(pool)
        .await?;
    Ok(match (clear, handled, started) {
        (false, _, _) => FirstEvent::EarlyEventsWaiting,
        (true, false, _) => FirstEvent::Duplicate,
        (true, true, false) => FirstEvent::ProcessExists,
        (true, true, true) => FirstEvent::Started,
    })
}

/// A process for a newly filed application, in state STARTING, in the trace of the span
/// executing, marked with whether events of its application arrived before it; None when it
/// exists already.
pub async fn insert_new(
    connection: &mut PgConnection,
    process: &Process,
) -> anyhow::Result<Option<Process>> {
    let statement = format!(
        "INSERT INTO processes (application_id, applicant, title, total_amount_minor, applied_at, \
         state, application_version, traceparent, early_events) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             EXISTS (SELECT 1 FROM deferred_events WHERE application_id = $1)) \
         ON CONFLICT (application_id) DO NOTHING RETURNING {COLUMNS}"
    );
    parse(
        bind_new(sqlx::query_as(&statement), process)
            .fetch_optional(connection)
            .await?,
    )
}

/// Binds the columns a new process is inserted with, in the order both inserts list them:
/// application id, applicant, title, total, applied at, state, application version and the
/// trace of the span executing.
fn bind_new<'q, O>(
    query: sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>,
    process: &'q Process,
) -> sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(process.application_id)
        .bind(&process.applicant)
        .bind(&process.title)
        .bind(process.total_amount.minor())
        .bind(process.applied_at)
        .bind(process.state.as_str())
        .bind(process.application_version)
        .bind(current_span_traceparent())
}

pub async fn find<'e>(
    executor: impl PgExecutor<'e>,
    application_id: Uuid,
) -> anyhow::Result<Option<Process>> {
    let statement = format!("SELECT {COLUMNS} FROM processes WHERE application_id = $1");
    parse(
        sqlx::query_as(&statement)
            .bind(application_id)
            .fetch_optional(executor)
            .await?,
    )
}

/// The last application version the process has seen, without locking it; None when the
/// application has no process yet.
pub async fn seen_version(pool: &PgPool, application_id: Uuid) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT application_version FROM processes WHERE application_id = $1")
        .bind(application_id)
        .fetch_optional(pool)
        .await
}

/// The process, locked until the caller's transaction ends.
pub async fn lock(
    connection: &mut PgConnection,
    application_id: Uuid,
) -> anyhow::Result<Option<Process>> {
    let statement = format!("SELECT {COLUMNS} FROM processes WHERE application_id = $1 FOR UPDATE");
    parse(
        sqlx::query_as(&statement)
            .bind(application_id)
            .fetch_optional(connection)
            .await?,
    )
}

/// A process claimed for its next step, with the trace that step continues.
pub struct Claimed {
    pub process: Process,
    /// The `traceparent` of what last started or advanced the process.
    pub traceparent: Option<String>,
    /// When the earliest step of any other process with work is due (in the past when one is
    /// due now, whether or not another worker holds it); None when no other has work.
    pub next_other_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    process: ProcessRow,
    next_other_at: Option<DateTime<Utc>>,
}

/// One process whose next step is due, locked until the caller's transaction ends; processes
/// another worker holds are passed over.
pub async fn claim_work(connection: &mut PgConnection) -> anyhow::Result<Option<Claimed>> {
    let statement = format!(
        "SELECT {COLUMNS}, (SELECT min(other.next_attempt_at) FROM processes AS other \
             WHERE other.{WITH_WORK} AND other.application_id <> processes.application_id) \
             AS next_other_at \
         FROM processes WHERE {WITH_WORK} AND next_attempt_at <= now() \
         ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    );
    let row: Option<ClaimedRow> = sqlx::query_as(&statement)
        .fetch_optional(connection)
        .await?;
    row.map(
        |ClaimedRow {
             mut process,
             next_other_at,
         }| {
            let traceparent = process.traceparent.take();
            Process::try_from(process).map(|process| Claimed {
                process,
                traceparent,
                next_other_at,
            })
        },
    )
    .transpose()
}

/// When the earliest step that is not due yet becomes due (steps due now are being taken by
/// the workers that hold them).
pub async fn next_postponed_at<'e>(
    executor: impl PgExecutor<'e>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let statement = format!(
        "SELECT min(next_attempt_at) FROM processes WHERE {WITH_WORK} AND next_attempt_at > now()"
    );
    Ok(sqlx::query_scalar(&statement).fetch_one(executor).await?)
}

/// Writes the process's state as the caller changed it; its next step is due at once, in the
/// trace of the span executing (outside any, in the trace it had).
pub async fn save(connection: &mut PgConnection, process: &Process) -> anyhow::Result<Process> {
    let statement = format!(
        "UPDATE processes SET state = $2, reason = $3, application_version = $4, \
         decision_due_at = $5, purchase_report_id = $6, version = version + 1, \
         updated_at = now(), next_attempt_at = now(), attempts = 0, last_error = NULL, \
         traceparent = COALESCE($7, traceparent) \
         WHERE application_id = $1 RETURNING {COLUMNS}"
    );
    let row: ProcessRow = sqlx::query_as(&statement)
        .bind(process.application_id)
        .bind(process.state.as_str())
        .bind(&process.reason)
        .bind(process.application_version)
        .bind(process.decision_due_at)
        .bind(process.purchase_report_id)
        .bind(current_span_traceparent())
        .fetch_one(connection)
        .await?;
    Process::try_from(row)
}

/// The channel on which decisions and deadlines tell every replica's driver of a step to take.
pub const WORK_CHANNEL: &str = "process_work";

/// Tells the driver's workers of every replica, at commit, that a process has a step to take.
pub async fn announce_work(connection: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WORK_CHANNEL)
        .execute(connection)
        .await?;
    Ok(())
}

/// Puts the process's next step off by `delay` after a passing failure.
pub async fn postpone<'e>(
    executor: impl PgExecutor<'e>,
    application_id: Uuid,
    delay: Duration,
    error: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE processes SET next_attempt_at = now() + make_interval(secs => $2), \
         attempts = attempts + 1, last_error = $3 WHERE application_id = $1",
    )
    .bind(application_id)
    .bind(delay.as_secs_f64())
    .bind(error)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn attempts<'e>(
    executor: impl PgExecutor<'e>,
    application_id: Uuid,
) -> anyhow::Result<i32> {
    Ok(
        sqlx::query_scalar("SELECT attempts FROM processes WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(executor)
            .await?
            .unwrap_or(0),
    )
}

/// Where a listing continues: after this process in (created_at, application_id) order.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ListCursor {
    pub created_at: DateTime<Utc>,
    pub application_id: Uuid,
}

/// Processes in `states` (any when empty), of `applicant` when given, oldest first.
pub async fn list<'e>(
    executor: impl PgExecutor<'e>,
    states: &[ProcessState],
    applicant: Option<&str>,
    after: Option<ListCursor>,
    limit: i64,
) -> anyhow::Result<Vec<Process>> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM processes WHERE TRUE"));
    if !states.is_empty() {
        let names: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
        query.push(" AND state = ANY(").push_bind(names).push(")");
    }
    if let Some(applicant) = applicant {
        query
            .push(" AND applicant = ")
            .push_bind(applicant.to_owned());
    }
    if let Some(after) = after {
        query
            .push(" AND (created_at, application_id) > (")
            .push_bind(after.created_at)
            .push(", ")
            .push_bind(after.application_id)
            .push(")");
    }
    query
        .push(" ORDER BY created_at, application_id LIMIT ")
        .push_bind(limit);
    let rows: Vec<ProcessRow> = query.build_query_as().fetch_all(executor).await?;
    rows.into_iter().map(Process::try_from).collect()
}
