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

use crate::domain::ApplicationError;

/// Application use cases over one PostgreSQL pool.
#[derive(Clone)]
pub struct Applications {
    pool: PgPool,
    /// Derived from PostgreSQL by `crate::indexing`; only read here.
    search_index: SearchIndex,
    /// Ids of the applications each committed write touched, so derived views (the search
    /// index) pick them up at once.
    changes: mpsc::UnboundedSender<Vec<Uuid>>,
    /// The receiving end, taken once by whoever keeps the derived views.
    change_receiver: Arc<Mutex<Option<ChangeReceiver>>>,
}

/// Ids of changed applications, one message per committed write.
pub type ChangeReceiver = mpsc::UnboundedReceiver<Vec<Uuid>>;

impl Applications {
    pub fn new(pool: PgPool, search_index: SearchIndex) -> Self {
        let (changes, change_receiver) = mpsc::unbounded_channel();
        Self {
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

    fn announce_change(&self, ids: Vec<Uuid>) {
        // Nobody listening (e.g. a tool without an index) is fine: the feed is an accelerator.
        drop(self.changes.send(ids));
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
    let unreachable = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_))
        )
    });
    if unreachable {
        ApplicationError::Unavailable(error)
    } else {
        ApplicationError::Internal(error)
    }
}
