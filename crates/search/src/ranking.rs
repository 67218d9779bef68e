//! Collects one page of hits in (score descending, id ascending) order, starting after a
//! keyset cursor.
//!
//! Two collectors give the same kind of page: [`KeysetTopDocs`] scores every match, for any
//! query; [`PrunedKeysetTopDocs`] serves one-word queries and hands the collector only the
//! matches that can reach the page. A request always takes the same one (its page token pins
//! the query), so scores compare exactly from page to page.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::query::{Scorer, Weight};
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};

use crate::page_token::RankPosition;
use crate::schema::{ID_HIGH_FIELD, ID_LOW_FIELD};

/// A document and its place in the ranking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankedDoc {
    pub position: RankPosition,
    pub address: DocAddress,
}

/// Orders by rank, so that a max-heap keeps the worst-ranked document on top.
#[derive(Debug, Clone, Copy)]
struct ByRank(RankedDoc);

impl PartialEq for ByRank {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ByRank {}

impl PartialOrd for ByRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByRank {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.position.rank_cmp(&other.0.position)
    }
}

/// The best `limit` documents ranked strictly after `after` (all of them when `None`).
///
/// Every matching document is scored (no block-max pruning), so a document's score is the
/// same on every page and the cursor comparison is exact.
pub(crate) struct KeysetTopDocs {
    pub limit: usize,
    pub after: Option<RankPosition>,
}

impl Collector for KeysetTopDocs {
    type Fruit = Vec<RankedDoc>;
    type Child = KeysetSegmentCollector;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<KeysetSegmentCollector> {
        let fast_fields = segment.fast_fields();
        Ok(KeysetSegmentCollector {
            segment_ord,
            id_high: fast_fields.u64(ID_HIGH_FIELD)?.first_or_default_col(0),
            id_low: fast_fields.u64(ID_LOW_FIELD)?.first_or_default_col(0),
            limit: self.limit,
            after: self.after,
            best: BinaryHeap::with_capacity(self.limit.saturating_add(1)),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segment_fruits: Vec<Vec<RankedDoc>>) -> tantivy::Result<Vec<RankedDoc>> {
        let mut all: Vec<RankedDoc> = segment_fruits.into_iter().flatten().collect();
        all.sort_unstable_by(|left, right| left.position.rank_cmp(&right.position));
        all.truncate(self.limit);
        Ok(all)
    }
}

/// How far below the page's worst score the disjunction is told to stop: far more than the
/// rounding difference between two summation orders of a handful of scores (about 1e-7
/// relative).
const WAND_MARGIN: Score = 1e-4;

/// The same page as [`KeysetTopDocs`], for a query that is a disjunction of term queries (one
/// word in every text): once the page is full, the disjunction reports only documents that
/// score at least the page's worst, so the others never reach the collector.
///
/// tantivy ranks such a disjunction with block-max WAND (skipping whole blocks of documents
/// whose best possible score is too low) only in a segment where every text holds the word; a
/// word seldom occurs in every text (applicant names), so most segments are scored in full and
/// filtered by score. Where WAND does run, it adds up a document's per-text scores in an order
/// that depends on how far each posting list has moved, so the last bit of its sum can differ
/// between two pages. Each document reported is therefore scored again here, as the sum of
/// `texts` in their fixed order, and ranked by that; the threshold handed back is lowered by
/// [`WAND_MARGIN`], so a document that could belong on the page is never skipped. Documents
/// must also match every `filters` weight (checked the same way, by seeking).
///
/// Forcing WAND into every segment (a disjunction of only the texts holding the word) was
/// measured slower on the benchmark corpus: over a thousand applications share the best score
/// of a common word exactly, every one of them must be visited to break the tie by id, and
/// WAND's bookkeeping costs more per visited document than scoring a block in bulk.
pub(crate) struct PrunedKeysetTopDocs {
    /// The page: its size and cursor.
    pub page: KeysetTopDocs,
    /// One weight per text, in a fixed order; the query's clauses.
    pub texts: Vec<Box<dyn Weight>>,
    /// Conditions every document must meet (status, applicant, dates).
    pub filters: Vec<Box<dyn Weight>>,
}

impl Collector for PrunedKeysetTopDocs {
    type Fruit = Vec<RankedDoc>;
    type Child = KeysetSegmentCollector;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<KeysetSegmentCollector> {
        self.page.for_segment(segment_ord, segment)
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segment_fruits: Vec<Vec<RankedDoc>>) -> tantivy::Result<Vec<RankedDoc>> {
        self.page.merge_fruits(segment_fruits)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<RankedDoc>> {
        let mut collector = self.for_segment(segment_ord, reader)?;
        let scorers = |weights: &[Box<dyn Weight>]| {
            weights
                .iter()
                .map(|weight| weight.scorer(reader, 1.0))
                .collect::<tantivy::Result<Vec<_>>>()
        };
        let mut texts = scorers(&self.texts)?;
        let mut filters = scorers(&self.filters)?;
        let alive = reader.alive_bitset();
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, _summed_by_wand| {
            let counts = alive.is_none_or(|alive| alive.is_alive(doc))
                && filters.iter_mut().all(|filter| positioned_on(filter, doc));
            if counts {
                let score = texts
                    .iter_mut()
                    .filter_map(|text| positioned_on(text, doc).then(|| text.score()))
                    .fold(0.0, |sum, score| sum + score);
                collector.collect(doc, score);
            }
            collector.pruning_threshold()
        })?;
        Ok(collector.harvest())
    }
}

/// How a document with `score` and an id whose high half is `high` ranks against `bound`
/// (`Less`: before it), or None when only the whole id can tell.
fn rank_by_high_half(score: Score, high: u64, bound: &RankPosition) -> Option<Ordering> {
    match bound.score.total_cmp(&score) {
        Ordering::Equal => match high.cmp(&((bound.id >> 64) as u64)) {
            Ordering::Equal => None,
            decided => Some(decided),
        },
        decided => Some(decided),
    }
}

/// Moves `scorer` forward to `doc` if it is behind; whether it holds `doc`. WAND reports
/// documents in increasing order, so scorers only ever move forward.
fn positioned_on(scorer: &mut Box<dyn Scorer>, doc: DocId) -> bool {
    let current = scorer.doc();
    let current = if current < doc && current != TERMINATED {
        scorer.seek(doc)
    } else {
        current
    };
    current == doc
}

pub(crate) struct KeysetSegmentCollector {
    segment_ord: SegmentOrdinal,
    id_high: Arc<dyn ColumnValues<u64>>,
    id_low: Arc<dyn ColumnValues<u64>>,
    limit: usize,
    after: Option<RankPosition>,
    best: BinaryHeap<ByRank>,
}

impl KeysetSegmentCollector {
    fn full_id(&self, high: u64, doc: DocId) -> u128 {
        (u128::from(high) << 64) | u128::from(self.id_low.get_val(doc))
    }

    /// The score below which a document cannot enter the page, less [`WAND_MARGIN`]; the
    /// lowest possible score until the page is full.
    fn pruning_threshold(&self) -> Score {
        match self.best.peek() {
            Some(worst) if self.best.len() >= self.limit && worst.0.position.score > 0.0 => {
                worst.0.position.score * (1.0 - WAND_MARGIN)
            }
            _ => Score::MIN,
        }
    }
}

impl SegmentCollector for KeysetSegmentCollector {
    type Fruit = Vec<RankedDoc>;

    fn collect(&mut self, doc: DocId, score: Score) {
        // Cheap score checks first; the id is read only when it can decide.
        if self
            .after
            .is_some_and(|after| score.total_cmp(&after.score) == Ordering::Greater)
        {
            return;
        }
        let worst = match self.best.peek() {
            Some(worst) if self.best.len() >= self.limit => Some(worst.0.position),
            _ => None,
        };
        if worst.is_some_and(|worst| score.total_cmp(&worst.score) == Ordering::Less) {
            return;
        }
        // Equal scores are common (short, similar titles); the high half of the id settles
        // almost every tie with one column read instead of two.
        let high = self.id_high.get_val(doc);
        let mut full_id = None;
        let mut rank_against = |bound: RankPosition| {
            rank_by_high_half(score, high, &bound).unwrap_or_else(|| {
                let id = *full_id.get_or_insert_with(|| self.full_id(high, doc));
                RankPosition { score, id }.rank_cmp(&bound)
            })
        };
        if self
            .after
            .is_some_and(|after| rank_against(after) != Ordering::Greater)
        {
            return;
        }
        if worst.is_some_and(|worst| rank_against(worst) != Ordering::Less) {
            return;
        }
        let id = full_id.unwrap_or_else(|| self.full_id(high, doc));
        let candidate = ByRank(RankedDoc {
            position: RankPosition { score, id },
            address: DocAddress::new(self.segment_ord, doc),
        });
        if self.best.len() < self.limit {
            self.best.push(candidate);
        } else if let Some(mut worst) = self.best.peek_mut() {
            *worst = candidate;
        }
    }

    fn harvest(self) -> Vec<RankedDoc> {
        self.best.into_iter().map(|ByRank(doc)| doc).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_half_of_the_id_ranks_like_the_whole_id_or_defers() {
        let ids = [
            0_u128,
            1,
            u128::from(u64::MAX),
            1 << 64,
            (1 << 64) | 7,
            (5 << 64) | 3,
            u128::MAX,
        ];
        let scores = [0.5_f32, 1.0, 1.0 + f32::EPSILON, 2.0];
        for &score in &scores {
            for &id in &ids {
                let candidate = RankPosition { score, id };
                for &bound_score in &scores {
                    for &bound_id in &ids {
                        let bound = RankPosition {
                            score: bound_score,
                            id: bound_id,
                        };
                        let whole = candidate.rank_cmp(&bound);
                        match rank_by_high_half(score, (id >> 64) as u64, &bound) {
                            Some(decided) => assert_eq!(decided, whole, "{candidate:?} {bound:?}"),
                            None => assert_eq!(
                                (score, id >> 64),
                                (bound_score, bound_id >> 64),
                                "deferred without a tie"
                            ),
                        }
                    }
                }
            }
        }
    }
}
