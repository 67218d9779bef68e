//! The use cases: the one domain layer that both the gRPC and the REST adapters call.

mod cancel;
mod create;
mod export;
mod lifecycle;
mod query;
mod search;
mod stats;
mod status_write;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{Mutex, Semaphore, mpsc};
use uuid::Uuid;
use zayavki_search::SearchIndex;

pub use create::Created;
pub use export::{Export, ExportOrder, ExportQuery};
pub use lifecycle::Transition;
pub use query::{ListQuery, Page};
pub use search::{SearchQuery, SearchResult};
pub use stats::StatsQuery;

use zayavki_common::{outbox, telemetry::current_traceparent};

use crate::{
    domain::{Application, ApplicationError},
    events,
    storage::coalesced_reads::CoalescedReads,
};

/// Application use cases over one PostgreSQL pool.
#[derive(Clone)]
pub struct Applications {
    pool: PgPool,
    /// Single applications by id, many lookups per query under load.
    reads: CoalescedReads,
    /// Derived from PostgreSQL by `crate::indexing`; only read here.
    search_index: SearchIndex,
    /// One permit per export allowed to run at once, held until its read ends.
    export_slots: Arc<Semaphore>,
    /// What each committed write changed, so derived views (the search index) pick it up at
    /// once.
    changes: mpsc::UnboundedSender<Change>,
    /// The receiving end, taken once by whoever keeps the derived views.
    change_receiver: Arc<Mutex<Option<ChangeReceiver>>>,
}

/// What a committed write changed, one message per write.
#[derive(Debug)]
pub enum Change {
    /// Applications filed by transaction `transaction` (its `pg_current_xact_id`), exactly as
    /// stored.
    Filed {
        transaction: u64,
        applications: Vec<Application>,
    },
    /// Applications whose new state is to be read from the database.
    Touched(Vec<Uuid>),
}

pub type ChangeReceiver = mpsc::UnboundedReceiver<Change>;

impl Applications {
    /// Must be called on a Tokio runtime: it starts the coalescing reader, which runs at most
    /// `read_queries` reads by id at a time. At most `export_concurrency` exports run at once.
    pub fn new(
        pool: PgPool,
        search_index: SearchIndex,
        read_queries: usize,
        export_concurrency: usize,
    ) -> Self {
        let (changes, change_receiver) = mpsc::unbounded_channel();
        Self {
            reads: CoalescedReads::start(pool.clone(), read_queries),
            pool,
            search_index,
            export_slots: Arc::new(Semaphore::new(export_concurrency)),
            changes,
            change_receiver: Arc::new(Mutex::new(Some(change_receiver))),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn search_index(&self) -> &SearchIndex {
        &self.search_index
    }

    /// The feed of changed ids; the first caller gets it, later callers get None.
    pub async fn take_change_receiver(&self) -> Option<ChangeReceiver> {
        self.change_receiver.lock().await.take()
    }

    fn announce_change(&self, change: Change) {
        // Nobody listening (e.g. a tool without an index) is fine: the feed is an accelerator.
        drop(self.changes.send(change));
    }

    /// Records the `application.created` events of newly filed applications in the transaction
    /// that inserts them, right after the insert and before the commit, so they are stored
    /// exactly when the applications are (a batch's with one COPY).
    async fn after_filed(
        &self,
        transaction: &mut Transaction<'_, Postgres>,
        filed: &[Application],
    ) -> Result<(), ApplicationError> {
        let traceparent = current_traceparent();
        let messages = filed
            .iter()
            .map(|application| events::created(application, &traceparent))
            .collect::<anyhow::Result<Vec<_>>>()?;
        outbox::insert_all(transaction, &messages).await?;
        Ok(())
    }

    /// Records the event of a status change in the writing transaction, right after the status
    /// update won its version race and before the commit, so it is stored exactly when the
    /// change is.
    async fn after_status_change(
        &self,
        transaction: &mut Transaction<'_, Postgres>,
        before: &Application,
        after: &Application,
    ) -> Result<(), ApplicationError> {
        let message = events::status_changed(before, after)?;
        outbox::insert_all(transaction, &[message]).await?;
        Ok(())
    }
}

/// The server clock at the database's precision (microseconds), so what we return equals what
/// we stored.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
