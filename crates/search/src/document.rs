//! The application as the index sees it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One application, flattened for indexing.
///
/// The index keeps one document per `id`: indexing a document with an id that is already
/// present replaces the old one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationDocument {
    pub id: Uuid,
    /// Who filed the application; searchable as text and usable as an exact ownership filter.
    pub applicant: String,
    pub title: String,
    pub description: Option<String>,
    pub item_names: Vec<String>,
    /// One of [`STATUSES`]; filtered on exactly as given.
    pub status: String,
    pub applied_at: DateTime<Utc>,
}

/// The statuses an application goes through, as stored in the index.
pub const STATUSES: [&str; 5] = ["NEW", "PROCESSING", "COMPLETED", "CANCELLED", "REJECTED"];
