//! Collects one page of hits in (score descending, id ascending) order, starting after a
//! keyset cursor.
//!
//! [`PageHeap`] holds the page; [`KeysetTopDocs`] fills it from every match of any query, and
//! `block_max` fills it for one-word queries, skipping blocks of matches that cannot reach it.
//! A request always takes the same path (its page token pins the query), so scores compare
//! exactly from page to page.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

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
        Ok(KeysetSegmentCollector {
            ids: SegmentIds::open(segment_ord, segment)?,
            page: PageHeap::new(self.limit, self.after),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segment_fruits: Vec<Vec<RankedDoc>>) -> tantivy::Result<Vec<RankedDoc>> {
        Ok(best_first(
            segment_fruits.into_iter().flatten().collect(),
            self.limit,
        ))
    }
}

/// `docs` in rank order, at most `limit` of them.
pub(crate) fn best_first(mut docs: Vec<RankedDoc>, limit: usize) -> Vec<RankedDoc> {
    docs.sort_unstable_by(|left, right| left.position.rank_cmp(&right.position));
    docs.truncate(limit);
    docs
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

/// The ids of one segment's documents.
pub(crate) struct SegmentIds {
    segment_ord: SegmentOrdinal,
    id_high: Arc<dyn ColumnValues<u64>>,
    id_low: Arc<dyn ColumnValues<u64>>,
}

impl SegmentIds {
    pub fn open(segment_ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<Self> {
        let fast_fields = segment.fast_fields();
        Ok(SegmentIds {
            segment_ord,
            id_high: fast_fields.u64(ID_HIGH_FIELD)?.first_or_default_col(0),
            id_low: fast_fields.u64(ID_LOW_FIELD)?.first_or_default_col(0),
        })
    }

    fn full_id(&self, high: u64, doc: DocId) -> u128 {
        (u128::from(high) << 64) | u128::from(self.id_low.get_val(doc))
    }
}

/// The page being collected: the best `limit` documents ranked strictly after `after`, from
/// any number of segments.
pub(crate) struct PageHeap {
    limit: usize,
    after: Option<RankPosition>,
    best: BinaryHeap<ByRank>,
}

impl PageHeap {
    pub fn new(limit: usize, after: Option<RankPosition>) -> PageHeap {
        PageHeap {
            limit,
            after,
            best: BinaryHeap::with_capacity(limit.saturating_add(1)),
        }
    }

    /// The worst document on the page once the page is full: a document must rank before it
    /// to get on the page.
    pub fn worst(&self) -> Option<RankPosition> {
        match self.best.peek() {
            Some(worst) if self.best.len() >= self.limit => Some(worst.0.position),
            _ => None,
        }
    }

    /// Puts the segment's document `doc` on the page if it ranks well enough.
    pub fn offer(&mut self, ids: &SegmentIds, doc: DocId, score: Score) {
        // Cheap score checks first; the id is read only when it can decide.
        if self
            .after
            .is_some_and(|after| score.total_cmp(&after.score) == Ordering::Greater)
        {
            return;
        }
        let worst = self.worst();
        if worst.is_some_and(|worst| score.total_cmp(&worst.score) == Ordering::Less) {
            return;
        }
        // Equal scores are common (short, similar titles); the high half of the id settles
        // almost every tie with one column read instead of two.
        let high = ids.id_high.get_val(doc);
        let mut full_id = None;
        let mut rank_against = |bound: RankPosition| {
            rank_by_high_half(score, high, &bound).unwrap_or_else(|| {
                let id = *full_id.get_or_insert_with(|| ids.full_id(high, doc));
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
        let id = full_id.unwrap_or_else(|| ids.full_id(high, doc));
        let candidate = ByRank(RankedDoc {
            position: RankPosition { score, id },
            address: DocAddress::new(ids.segment_ord, doc),
        });
        if self.best.len() < self.limit {
            self.best.push(candidate);
        } else if let Some(mut worst) = self.best.peek_mut() {
            *worst = candidate;
        }
    }

    /// The page, in no particular order.
    pub fn into_docs(self) -> Vec<RankedDoc> {
        self.best.into_iter().map(|ByRank(doc)| doc).collect()
    }
}

pub(crate) struct KeysetSegmentCollector {
    ids: SegmentIds,
    page: PageHeap,
}

impl SegmentCollector for KeysetSegmentCollector {
    type Fruit = Vec<RankedDoc>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.page.offer(&self.ids, doc, score);
    }

    fn harvest(self) -> Vec<RankedDoc> {
        self.page.into_docs()
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
