//! Full-text index over applications (purchase requests), in Russian and English.
//!
//! The index is derived data: the application service fills it from its database with
//! [`SearchIndex::upsert`], remembers how far it got with the commit watermark, and rebuilds it
//! from scratch when [`SearchIndex::open_or_create`] reports [`IndexOpenError::Corrupt`].
//!
//! # Searching
//!
//! Titles, descriptions, item names and the applicant are searched, ranked by BM25 with a match
//! in the title counting most (title ×3, item names ×1.5, description and applicant ×1).
//! Words match in any grammatical form (Snowball stemming: Russian for Cyrillic words, English
//! for Latin ones), case-insensitively, with `ё` and `е` treated alike.
//!
//! A one-word query normalises a text's length by that text's average length in the
//! document's index segment rather than in the whole index, which lets it pass over blocks of
//! documents that cannot reach the page with an exact bound (see `block_max`); identical
//! applications in different segments may therefore score a hair apart.
//!
//! The query syntax is small and forgiving:
//!
//! | input                 | meaning                                                   |
//! |-----------------------|-----------------------------------------------------------|
//! | `ложки вилки`         | both words, in any form and any order                     |
//! | `"чайные ложки"`      | these words next to each other, in this order             |
//! | `лож*`                | a word starting with `лож` (at least two letters)         |
//! | anything else         | punctuation: separates words, otherwise ignored           |
//!
//! Capitalised `AND`, `OR`, `NOT` are ignored. Queries with no word, more than
//! [`MAX_QUERY_CHARS`] characters or more than [`MAX_QUERY_TERMS`] words are rejected with
//! [`SearchError::InvalidQuery`].
//!
//! # Pages and snippets
//!
//! Hits come best first (ties by id). `next_page_token` continues after the last hit of the
//! page and is valid only for the same query and filters. Each hit has an HTML snippet of at
//! most about [`SNIPPET_MAX_CHARS`] characters, from the title, else the description, else the
//! item names, with matched words in `<b>…</b>` and all other text escaped.

mod analyzer;
mod block_max;
mod document;
mod id_floors;
mod index;
mod page_token;
mod query_builder;
mod query_language;
mod ranking;
mod request;
#[cfg(feature = "sample-data")]
pub mod sample_data;
mod schema;
mod snippet;
mod writer_thread;

pub use document::{ApplicationDocument, STATUSES};
pub use index::{IndexOpenError, SearchIndex};
pub use query_language::{MAX_QUERY_CHARS, MAX_QUERY_TERMS, MIN_PREFIX_CHARS};
pub use request::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SearchError, SearchHit, SearchPage, SearchRequest,
};
pub use snippet::SNIPPET_MAX_CHARS;
