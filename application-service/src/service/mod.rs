//! The use cases: the one domain layer that both the gRPC and the REST adapters call.

mod cancel;
mod create;
mod lifecycle;
mod query;
mod search;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::PgPool;
use tokio::sync::Notify;
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
    /// Woken after every committed write, so derived views (the search index) catch up at once.
    changes: Arc<Notify>,
}

impl Applications {
    pub fn new(pool: PgPool, search_index: SearchIndex) -> Self {
        Self {
            pool,
            search_index,
            changes: Arc::new(Notify::new()),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn search_index(&self) -> &SearchIndex {
        &self.search_index
    }

    /// Notified after each committed write.
    pub fn changes(&self) -> Arc<Notify> {
        Arc::clone(&self.changes)
    }

    fn announce_change(&self) {
        self.changes.notify_one();
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
