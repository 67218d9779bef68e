//! Behaviour of the search index through its public API.

mod filters;
mod helpers;
mod hostile_input;
mod lifecycle;
mod morphology;
mod pagination;
mod query_syntax;
mod ranking;
mod snippets;
