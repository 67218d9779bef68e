//! Turns a parsed query and the request's filters into a tantivy query.
//!
//! Every clause must match (`Must`) and may match in any searchable text (`Should` over the
//! texts, each boosted by its weight, so a title match outranks a description match).
//! Filters are `Must` clauses that add nothing to the score.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;

use crate::block_max::WeightedTerm;
use crate::query_language::{Clause, ParsedQuery};
use crate::request::SearchRequest;
use crate::schema::{Fields, TextField};

pub(crate) fn build_query(
    parsed: &ParsedQuery,
    request: &SearchRequest,
    fields: &Fields,
) -> Box<dyn Query> {
    let mut required: Vec<(Occur, Box<dyn Query>)> = parsed
        .clauses
        .iter()
        .map(|clause| (Occur::Must, clause_query(clause, fields)))
        .collect();
    required.extend(
        filter_queries(request, fields)
            .into_iter()
            .map(|filter| (Occur::Must, filter)),
    );
    Box::new(BooleanQuery::new(required))
}

fn clause_query(clause: &Clause, fields: &Fields) -> Box<dyn Query> {
    let per_text = fields.texts().into_iter().map(|text| {
        let query = match clause {
            Clause::Word { stem } => word_query(text, stem),
            Clause::Prefix { prefix } => prefix_query(text, prefix),
            Clause::Phrase { stems } => phrase_query(text, stems),
        };
        let boosted: Box<dyn Query> = Box::new(BoostQuery::new(query, text.boost));
        (Occur::Should, boosted)
    });
    Box::new(BooleanQuery::new(per_text.collect()))
}

/// For a query of one plain word, the word as indexed in each text, with the text's weight, in
/// the order of [`Fields::texts`] (see `block_max`). None otherwise.
pub(crate) fn one_word_terms(parsed: &ParsedQuery, fields: &Fields) -> Option<Vec<WeightedTerm>> {
    match parsed.clauses.as_slice() {
        [Clause::Word { stem }] => Some(
            fields
                .texts()
                .into_iter()
                .map(|text| WeightedTerm {
                    term: Term::from_field_text(text.stemmed, stem),
                    boost: text.boost,
                })
                .collect(),
        ),
        _ => None,
    }
}

fn word_query(text: TextField, stem: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(text.stemmed, stem),
        IndexRecordOption::WithFreqs,
    ))
}

/// Matches words of the unstemmed copy that start with `prefix`. Such matches have no term
/// statistics to rank by, so each one counts as a constant (times the text's boost).
fn prefix_query(text: TextField, prefix: &str) -> Box<dyn Query> {
    // A Levenshtein automaton with distance 0 in prefix mode accepts exactly the words that
    // start with the prefix, and needs no escaping unlike a regex.
    Box::new(FuzzyTermQuery::new_prefix(
        Term::from_field_text(text.prefix, prefix),
        0,
        true,
    ))
}

fn phrase_query(text: TextField, stems: &[(usize, String)]) -> Box<dyn Query> {
    let terms = stems
        .iter()
        .map(|(position, stem)| (*position, Term::from_field_text(text.stemmed, stem)))
        .collect();
    Box::new(PhraseQuery::new_with_offset(terms))
}

/// The request's filters (status, applicant, dates), each scoring nothing.
pub(crate) fn filter_queries(request: &SearchRequest, fields: &Fields) -> Vec<Box<dyn Query>> {
    let mut filters: Vec<Box<dyn Query>> = Vec::new();
    if !request.statuses.is_empty() {
        let statuses = request
            .statuses
            .iter()
            .map(|status| Term::from_field_text(fields.status, status));
        filters.push(Box::new(TermSetQuery::new(statuses)));
    }
    if let Some(applicant) = &request.applicant {
        filters.push(Box::new(TermQuery::new(
            Term::from_field_text(fields.applicant_exact, applicant),
            IndexRecordOption::Basic,
        )));
    }
    if request.applied_from.is_some() || request.applied_before.is_some() {
        let micros = |instant: DateTime<Utc>| {
            Term::from_field_i64(fields.applied_at, instant.timestamp_micros())
        };
        let lower = request
            .applied_from
            .map_or(Bound::Unbounded, |from| Bound::Included(micros(from)));
        let upper = request
            .applied_before
            .map_or(Bound::Unbounded, |before| Bound::Excluded(micros(before)));
        filters.push(Box::new(RangeQuery::new(lower, upper)));
    }
    filters
        .into_iter()
        .map(|filter| Box::new(ConstScoreQuery::new(filter, 0.0)) as Box<dyn Query>)
        .collect()
}
