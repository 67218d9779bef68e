//! Exporting every matching application for reports, as a stream of chunks.
//!
//! The count and the rows are read in one REPEATABLE READ, READ ONLY transaction, so the total
//! announced first is exactly the number of rows that follow. Rows are read from PostgreSQL as
//! the caller takes chunks: a bounded channel sits between the reading task and the caller, so a
//! slow reader slows the read down instead of making the service hold the result. The
//! transaction keeps one pooled connection for the whole export, so only a few exports run at
//! once (`EXPORT_CONCURRENCY`): any more wait for a running one to finish, and the rest of the
//! pool stays with every other request.

use std::{sync::Arc, time::Instant};

use sqlx::{Connection, PgConnection, Postgres, pool::PoolConnection};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio_stream::StreamExt;

use super::{
    Applications,
    query::{parse_filter, require_role},
};
use crate::{
    domain::{
        Application, ApplicationError, ApplicationStatus, Caller, application::parse_id,
        validation::Violations,
    },
    storage::export::{ExportSelection, ExportStatements},
};

pub use crate::storage::export::ExportOrder;

pub const DEFAULT_CHUNK_ROWS: usize = 500;
pub const MAX_CHUNK_ROWS: usize = 5_000;
pub const MAX_EXPORT_IDS: usize = 1_000;
/// A chunk closes early once its rows hold about this much text, so that one message stays
/// well under the 4 MiB gRPC clients accept by default whatever the rows hold.
const CHUNK_BYTES: usize = 2 * 1024 * 1024;
/// Chunks converted ahead of the caller. Past this the reading task waits, and PostgreSQL waits
/// for it.
const CHUNKS_AHEAD: usize = 4;
const SNAPSHOT_TRANSACTION: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// An export request as any adapter receives it.
#[derive(Clone, Debug, Default)]
pub struct ExportQuery {
    pub applied_from: Option<String>,
    pub applied_to: Option<String>,
    pub statuses: Vec<ApplicationStatus>,
    /// Only this applicant's applications; applicants may name only themselves.
    pub applicant: Option<String>,
    pub application_ids: Vec<String>,
    pub order: ExportOrder,
    /// Rows per chunk; absent or 0 means [`DEFAULT_CHUNK_ROWS`].
    pub chunk_size: Option<i64>,
}

/// A running export: the total, then the rows in chunks. The first chunk always comes, empty
/// when nothing matched; a failure after the total arrives as the last item.
pub struct Export<T> {
    pub total: u64,
    pub chunks: mpsc::Receiver<Result<Vec<T>, ApplicationError>>,
}

/// A validated export request.
struct ExportPlan {
    selection: ExportSelection,
    chunk_rows: usize,
}

/// Why the reading task stopped before the end.
enum Stop {
    /// Nobody takes the chunks any more.
    Abandoned,
    Failed(ApplicationError),
}

impl From<ApplicationError> for Stop {
    fn from(error: ApplicationError) -> Self {
        Self::Failed(error)
    }
}

impl Applications {
    /// Starts exporting what `query` selects among the applications `caller` may see; each row
    /// is turned into a `T` by `convert` on the reading task. Returns once the rows are counted.
    #[tracing::instrument(
        skip(self, query, convert),
        fields(caller = %caller.subject, ids = query.application_ids.len())
    )]
    pub async fn export<T, F>(
        &self,
        caller: &Caller,
        query: ExportQuery,
        convert: F,
    ) -> Result<Export<T>, ApplicationError>
    where
        T: Send + 'static,
        F: FnMut(Application) -> T + Send + 'static,
    {
        require_role(caller)?;
        let plan = parse_export(caller, query)?;
        let slot = self.wait_for_export_slot().await?;
        let connection = self.pool.acquire().await?;
        let (counted, total) = oneshot::channel();
        let (chunk_sender, chunks) = mpsc::channel(CHUNKS_AHEAD);
        tokio::spawn(async move {
            run_export(connection, plan, convert, counted, chunk_sender).await;
            // Released only once the reading task has let go of its connection.
            drop(slot);
        });
        let total = total.await.map_err(|_| {
            ApplicationError::Internal(anyhow::anyhow!("the export stopped before counting"))
        })??;
        Ok(Export { total, chunks })
    }

    /// A permit to run one export, waiting as long as every slot is taken.
    async fn wait_for_export_slot(&self) -> Result<OwnedSemaphorePermit, ApplicationError> {
        if self.export_slots.available_permits() == 0 {
            tracing::debug!("export waits for a running one to finish");
        }
        Arc::clone(&self.export_slots)
            .acquire_owned()
            .await
            // The semaphore is never closed.
            .map_err(|closed| ApplicationError::Internal(closed.into()))
    }
}

/// The reading task: owns the connection for the whole export.
async fn run_export<T, F>(
    mut connection: PoolConnection<Postgres>,
    plan: ExportPlan,
    convert: F,
    counted: oneshot::Sender<Result<u64, ApplicationError>>,
    chunks: mpsc::Sender<Result<Vec<T>, ApplicationError>>,
) where
    T: Send + 'static,
    F: FnMut(Application) -> T + Send + 'static,
{
    let started = Instant::now();
    let mut counted = Some(counted);
    let outcome = tokio::select! {
        outcome = read_snapshot(&mut connection, plan, convert, &mut counted, &chunks) => outcome,
        () = chunks.closed() => Err(Stop::Abandoned),
    };
    let failure = match outcome {
        Ok(rows) => {
            tracing::debug!(
                rows,
                elapsed_ms = started.elapsed().as_millis(),
                "export finished"
            );
            return;
        }
        Err(Stop::Abandoned) => None,
        Err(Stop::Failed(error)) => Some(error),
    };
    // The connection may still be receiving rows of the interrupted read: closing it ends the
    // query and the transaction at once, where returning it to the pool would first drain every
    // remaining row.
    connection.close_on_drop();
    drop(connection);
    match failure {
        None => tracing::debug!(
            elapsed_ms = started.elapsed().as_millis(),
            "export abandoned by its reader"
        ),
        Some(error) => match counted.take() {
            Some(counted) => drop(counted.send(Err(error))),
            None => drop(chunks.send(Err(error)).await),
        },
    }
}

/// Counts and streams the selection in one snapshot; returns the rows sent.
async fn read_snapshot<T, F>(
    connection: &mut PgConnection,
    plan: ExportPlan,
    mut convert: F,
    counted: &mut Option<oneshot::Sender<Result<u64, ApplicationError>>>,
    chunks: &mpsc::Sender<Result<Vec<T>, ApplicationError>>,
) -> Result<u64, Stop>
where
    F: FnMut(Application) -> T,
{
    let mut transaction = connection
        .begin_with(SNAPSHOT_TRANSACTION)
        .await
        .map_err(ApplicationError::from)?;
    let mut statements = ExportStatements::new(&plan.selection);
    let total = statements
        .count(&mut transaction)
        .await
        .map_err(ApplicationError::from)?;
    if let Some(counted) = counted.take()
        && counted.send(Ok(total)).is_err()
    {
        return Err(Stop::Abandoned);
    }
    let mut sent: u64 = 0;
    let mut first = true;
    let mut chunk = Vec::with_capacity(plan.chunk_rows);
    let mut chunk_bytes = 0;
    let mut rows = statements.rows(&mut transaction);
    while let Some(application) = rows.next().await {
        let application = application.map_err(ApplicationError::from)?;
        chunk_bytes += approximate_bytes(&application);
        chunk.push(convert(application));
        if chunk.len() >= plan.chunk_rows || chunk_bytes >= CHUNK_BYTES {
            sent += chunk.len() as u64;
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(plan.chunk_rows));
            chunk_bytes = 0;
            chunks.send(Ok(full)).await.map_err(|_| Stop::Abandoned)?;
            first = false;
        }
    }
    drop(rows);
    if first || !chunk.is_empty() {
        sent += chunk.len() as u64;
        chunks.send(Ok(chunk)).await.map_err(|_| Stop::Abandoned)?;
    }
    transaction.commit().await.map_err(ApplicationError::from)?;
    Ok(sent)
}

/// Roughly what a row weighs once encoded: its text plus a fixed share for the other fields.
fn approximate_bytes(application: &Application) -> usize {
    const FIXED: usize = 160;
    const PER_ITEM: usize = 32;
    let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
    FIXED
        + application.applicant.len()
        + application.title.len()
        + optional(&application.description)
        + optional(&application.cancel_reason)
        + optional(&application.rejection_reason)
        + application
            .items
            .iter()
            .map(|item| PER_ITEM + item.name.len())
            .sum::<usize>()
}

fn parse_export(caller: &Caller, query: ExportQuery) -> Result<ExportPlan, ApplicationError> {
    let applicant = match (caller.visible_applicant(), query.applicant) {
        (None, asked) => asked,
        (Some(own), None) => Some(own.to_owned()),
        (Some(own), Some(asked)) if asked == own => Some(asked),
        (Some(_), Some(_)) => {
            return Err(ApplicationError::PermissionDenied(
                "an applicant may export only their own applications".to_owned(),
            ));
        }
    };
    let mut violations = Violations::new();
    let filter = parse_filter(
        query.applied_from.as_deref(),
        query.applied_to.as_deref(),
        &query.statuses,
        &mut violations,
    );
    let chunk_rows = violations
        .check("chunk_size", parse_chunk_rows(query.chunk_size))
        .unwrap_or(DEFAULT_CHUNK_ROWS);
    let ids = parse_ids(&query.application_ids, &mut violations);
    if !violations.is_empty() {
        return Err(ApplicationError::Validation(violations.into_vec()));
    }
    Ok(ExportPlan {
        selection: ExportSelection {
            filter,
            applicant,
            ids,
            order: query.order,
        },
        chunk_rows,
    })
}

fn parse_chunk_rows(raw: Option<i64>) -> Result<usize, String> {
    match raw {
        None | Some(0) => Ok(DEFAULT_CHUNK_ROWS),
        Some(rows) => usize::try_from(rows)
            .ok()
            .filter(|rows| (1..=MAX_CHUNK_ROWS).contains(rows))
            .ok_or_else(|| format!("must be between 1 and {MAX_CHUNK_ROWS} (got {rows})")),
    }
}

/// `None` when no ids are given: no restriction.
fn parse_ids(raw: &[String], violations: &mut Violations) -> Option<Vec<uuid::Uuid>> {
    if raw.is_empty() {
        return None;
    }
    if raw.len() > MAX_EXPORT_IDS {
        violations.add(
            "application_ids",
            format!("at most {MAX_EXPORT_IDS} ids (got {})", raw.len()),
        );
        return None;
    }
    let mut ids = Vec::with_capacity(raw.len());
    for (index, id) in raw.iter().enumerate() {
        match parse_id(id) {
            Ok(id) => ids.push(id),
            Err(reason) => violations.add(format!("application_ids[{index}]"), reason),
        }
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, applicant: bool, operator: bool) -> Caller {
        Caller {
            subject: subject.to_owned(),
            is_applicant: applicant,
            is_operator: operator,
            is_service: false,
        }
    }

    #[test]
    fn chunk_size_defaults_and_bounds() {
        assert_eq!(parse_chunk_rows(None), Ok(DEFAULT_CHUNK_ROWS));
        assert_eq!(parse_chunk_rows(Some(0)), Ok(DEFAULT_CHUNK_ROWS));
        assert_eq!(parse_chunk_rows(Some(1)), Ok(1));
        assert_eq!(parse_chunk_rows(Some(5_000)), Ok(5_000));
        assert!(parse_chunk_rows(Some(5_001)).is_err());
        assert!(parse_chunk_rows(Some(-1)).is_err());
    }

    #[test]
    fn applicants_are_held_to_their_own_rows() {
        let alice = caller("alice", true, false);
        let forced = parse_export(&alice, ExportQuery::default()).expect("valid");
        assert_eq!(forced.selection.applicant.as_deref(), Some("alice"));
        let someone_else = ExportQuery {
            applicant: Some("bob".to_owned()),
            ..ExportQuery::default()
        };
        assert!(matches!(
            parse_export(&alice, someone_else.clone()),
            Err(ApplicationError::PermissionDenied(_))
        ));
        let operator = parse_export(&caller("olga", false, true), someone_else).expect("valid");
        assert_eq!(operator.selection.applicant.as_deref(), Some("bob"));
    }

    #[test]
    fn every_wrong_field_is_named() {
        let query = ExportQuery {
            applied_from: Some("yesterday".to_owned()),
            chunk_size: Some(9_999),
            application_ids: vec![uuid::Uuid::nil().to_string(), "nope".to_owned()],
            ..ExportQuery::default()
        };
        let Err(ApplicationError::Validation(violations)) =
            parse_export(&caller("olga", false, true), query)
        else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["applied_from", "chunk_size", "application_ids[1]"]);
    }
}
