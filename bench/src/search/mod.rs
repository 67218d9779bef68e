//! Pieces of the search benchmark (`src/bin/search.rs`): the generated corpus loaded with binary
//! COPY, the query sets, latency summaries and the PostgreSQL full-text baseline.

pub mod corpus;
pub mod postgres_baseline;
pub mod queries;
pub mod summary;
