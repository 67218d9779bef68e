//! What a search asks for and what it returns.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::query_language::QueryError;

/// Largest page a search may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Page size of [`SearchRequest::new`].
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// A full-text search with optional filters; every condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// What the person typed (see the crate documentation for the syntax).
    pub query: String,
    /// Only applications in one of these statuses; empty means any status.
    pub statuses: Vec<String>,
    /// Only applications filed at or after this instant.
    pub applied_from: Option<DateTime<Utc>>,
    /// Only applications filed strictly before this instant.
    pub applied_before: Option<DateTime<Utc>>,
    /// Only this applicant's applications (exact match), for callers that may see only their own.
    pub applicant: Option<String>,
    /// Hits per page, `1..=MAX_PAGE_SIZE`.
    pub page_size: usize,
    /// The `next_page_token` of the previous page of the same request, if any.
    pub page_token: Option<String>,
}

impl SearchRequest {
    /// The first page of `query`, unfiltered, [`DEFAULT_PAGE_SIZE`] hits long.
    pub fn new(query: impl Into<String>) -> SearchRequest {
        SearchRequest {
            query: query.into(),
            page_size: DEFAULT_PAGE_SIZE,
            ..SearchRequest::default()
        }
    }
}

/// One page of hits, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Present when more hits follow; pass it back with the same request to get them.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: Uuid,
    /// BM25 relevance; only meaningful relative to other hits of the same query.
    pub score: f32,
    /// A short HTML fragment of the best-matching text: matched words are wrapped in
    /// `<b>…</b>`, everything else is HTML-escaped.
    pub snippet: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text cannot be searched; the message can be shown to the person who typed it.
    #[error("{0}")]
    InvalidQuery(String),
    /// The page token is malformed or was issued for a different request; the message follows
    /// the parameter's name (`zayavki_common::page_token::PageTokenError`).
    #[error("page_token {0}")]
    InvalidPageToken(String),
    /// `page_size` is outside `1..=MAX_PAGE_SIZE`.
    #[error("page_size must be between 1 and {MAX_PAGE_SIZE}, got {0}")]
    InvalidPageSize(usize),
    /// The index failed; not the caller's fault.
    #[error("search failed")]
    Internal(#[source] anyhow::Error),
}

impl From<QueryError> for SearchError {
    fn from(error: QueryError) -> Self {
        SearchError::InvalidQuery(error.to_string())
    }
}
