//! Reads of single applications by id, coalesced: lookups that arrive while earlier ones are
//! being answered share one `WHERE id = ANY($1)` round trip.
//!
//! A lookup never waits for company. At most `concurrency` queries run at a time; a lookup that
//! finds a query slot free is sent at once, alone, and lookups that arrive while every slot is
//! busy queue up and leave together when the next slot frees. Under light load every lookup is
//! its own query; under heavy load one query answers many, which saves the per-statement cost in
//! PostgreSQL and in this process (parse, plan, wake-up, protocol) that dominates a primary-key
//! read. Each query starts after the lookups it carries arrived, so a lookup sees every write
//! that committed before it was made.

use std::{collections::HashMap, sync::Arc};

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::{application_rows::ApplicationRow, applications::find_rows};
use crate::domain::{Application, ApplicationError};

/// The most ids one query carries; more waiting lookups take further queries.
const MAX_IDS_PER_QUERY: usize = 256;

/// Why a coalesced read failed; shared by every lookup of the failed query.
#[derive(Clone, Debug)]
pub struct ReadFailure(Arc<anyhow::Error>);

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("coalesced read by id failed")
    }
}

/// The shared error is this one's source, so whoever classifies failures by their causes (an
/// unreachable database, for one) sees every cause of the failed query.
impl std::error::Error for ReadFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&**self.0)
    }
}

impl From<ReadFailure> for ApplicationError {
    fn from(failure: ReadFailure) -> Self {
        anyhow::Error::new(failure).into()
    }
}

type Reply = Result<Option<Application>, ReadFailure>;

struct Lookup {
    id: Uuid,
    reply: oneshot::Sender<Reply>,
}

/// Handle to the coalescing reader; cheap to clone. The reader stops when every handle is gone.
#[derive(Clone)]
pub struct CoalescedReads {
    lookups: mpsc::UnboundedSender<Lookup>,
}

impl CoalescedReads {
    /// Starts the reader on the current Tokio runtime, with at most `concurrency` queries (and
    /// so pool connections) in use at a time.
    pub fn start(pool: PgPool, concurrency: usize) -> Self {
        let (lookups, receiver) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(
            pool,
            receiver,
            Arc::new(Semaphore::new(concurrency.max(1))),
        ));
        Self { lookups }
    }

    /// The application with this id, if there is one.
    pub async fn find(&self, id: Uuid) -> Reply {
        let (reply, answer) = oneshot::channel();
        let stopped = || ReadFailure(Arc::new(anyhow::anyhow!("the application reader stopped")));
        self.lookups
            .send(Lookup { id, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn dispatch(
    pool: PgPool,
    mut lookups: mpsc::UnboundedReceiver<Lookup>,
    slots: Arc<Semaphore>,
) {
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Some(first) = lookups.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_IDS_PER_QUERY {
            match lookups.try_recv() {
                Ok(lookup) => batch.push(lookup),
                Err(_) => break,
            }
        }
        // Callers that gave up (a cancelled request) need no answer.
        batch.retain(|lookup| !lookup.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, batch).await;
            drop(slot);
        });
    }
}

#[tracing::instrument(skip_all, fields(lookups = batch.len()))]
async fn answer(pool: &PgPool, batch: Vec<Lookup>) {
    let mut ids: Vec<Uuid> = batch.iter().map(|lookup| lookup.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = match find_rows(pool, &ids).await {
        Ok(rows) => rows,
        Err(error) => {
            let failure = ReadFailure(Arc::new(error.into()));
            for lookup in batch {
                drop(lookup.reply.send(Err(failure.clone())));
            }
            return;
        }
    };
    let mut found: HashMap<Uuid, ApplicationRow> =
        rows.into_iter().map(|row| (row.id, row)).collect();
    let mut askers: HashMap<Uuid, usize> = HashMap::with_capacity(batch.len());
    for lookup in &batch {
        *askers.entry(lookup.id).or_default() += 1;
    }
    for lookup in batch {
        // The same id asked twice in one batch: every asker but the last gets a copy.
        let others_waiting = askers.get_mut(&lookup.id).is_some_and(|count| {
            *count -= 1;
            *count > 0
        });
        let row = if others_waiting {
            found.get(&lookup.id).cloned()
        } else {
            found.remove(&lookup.id)
        };
        let reply = row
            .map(Application::try_from)
            .transpose()
            .map_err(|error| ReadFailure(Arc::new(error)));
        drop(lookup.reply.send(reply));
    }
}

#[cfg(test)]
mod tests {
    use zayavki_common::ErrorCode;

    use super::*;

    #[test]
    fn a_shared_failure_is_classified_by_its_causes() {
        let timed_out = ReadFailure(Arc::new(sqlx::Error::PoolTimedOut.into()));
        assert_eq!(
            ApplicationError::from(timed_out.clone()).code(),
            ErrorCode::Unavailable
        );
        let undecodable = ReadFailure(Arc::new(anyhow::anyhow!("unknown status \"LOST\"")));
        assert_eq!(
            ApplicationError::from(undecodable).code(),
            ErrorCode::Internal
        );
        // Every lookup of the failed query gets the same answer.
        assert_eq!(
            ApplicationError::from(timed_out).code(),
            ErrorCode::Unavailable
        );
    }
}
