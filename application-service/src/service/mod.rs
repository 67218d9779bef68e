//! The use cases: the one domain layer that both the gRPC and the REST adapters call.

mod cancel;
mod create;
mod lifecycle;
mod query;
mod search;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;
use zayavki_search::SearchIndex;

pub use create::Created;
pub use lifecycle::Transition;
pub use query::{ListQuery, Page};
pub use search::{SearchQuery, SearchResult};

use crate::{
    domain::{Application, ApplicationError},
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
    /// `read_queries` reads by id at a time.
    pub fn new(pool: PgPool, search_index: SearchIndex, read_queries: usize) -> Self {
        let (changes, change_receiver) = mpsc::unbounded_channel();
        Self {
            reads: CoalescedReads::start(pool.clone(), read_queries),
            pool,
            search_index,
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
}

/// The server clock at the database's precision (microseconds), so what we return equals what
/// we stored.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Storage failures: an unreachable database is `Unavailable`, anything else `Internal`.
fn storage_error(error: impl Into<anyhow::Error>) -> ApplicationError {
    let error = error.into();
    let unreachable = is_unreachable(&error);
    classified(error, unreachable)
}

/// The same for a failure shared by several callers (a coalesced read).
fn shared_storage_error(error: &anyhow::Error) -> ApplicationError {
    classified(anyhow::anyhow!("{error:#}"), is_unreachable(error))
}

fn classified(error: anyhow::Error, unreachable: bool) -> ApplicationError {
    if unreachable {
        ApplicationError::Unavailable(error)
    } else {
        ApplicationError::Internal(error)
    }
}

fn is_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_))
        )
    })
}
