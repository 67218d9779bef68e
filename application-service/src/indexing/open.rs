//! Opening the index directory, starting over when it is damaged: it is derived data.

use std::path::Path;

use anyhow::Context;
use zayavki_search::{IndexOpenError, SearchIndex};

/// Opens the index at `directory`; a corrupt or incompatible one is deleted and recreated
/// empty, and the next catch-up rebuilds it from PostgreSQL.
pub fn open_or_rebuild(directory: &Path) -> anyhow::Result<SearchIndex> {
    match SearchIndex::open_or_create(directory) {
        Ok(index) => Ok(index),
        Err(IndexOpenError::Corrupt { reason, .. }) => {
            tracing::warn!(path = %directory.display(), %reason, "search index is damaged, rebuilding it from PostgreSQL");
            std::fs::remove_dir_all(directory).with_context(|| {
                format!("cannot remove the damaged index at {}", directory.display())
            })?;
            SearchIndex::open_or_create(directory).map_err(anyhow::Error::from)
        }
        Err(error) => Err(error.into()),
    }
}
