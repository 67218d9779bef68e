//! Collects one page of hits in (score descending, id ascending) order, starting after a
//! keyset cursor.

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

pub(crate) struct KeysetSegmentCollector {
    segment_ord: SegmentOrdinal,
    id_high: Arc<dyn ColumnValues<u64>>,
    id_low: Arc<dyn ColumnValues<u64>>,
    limit: usize,
    after: Option<RankPosition>,
    best: BinaryHeap<ByRank>,
}

impl KeysetSegmentCollector {
    fn id_of(&self, doc: DocId) -> u128 {
        (u128::from(self.id_high.get_val(doc)) << 64) | u128::from(self.id_low.get_val(doc))
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
        let worst_score = match self.best.peek() {
            Some(worst) if self.best.len() >= self.limit => Some(worst.0.position.score),
            _ => None,
        };
        if worst_score.is_some_and(|worst| score.total_cmp(&worst) == Ordering::Less) {
            return;
        }
        let candidate = ByRank(RankedDoc {
            position: RankPosition {
                score,
                id: self.id_of(doc),
            },
            address: DocAddress::new(self.segment_ord, doc),
        });
        if self
            .after
            .is_some_and(|after| candidate.0.position.rank_cmp(&after) != Ordering::Greater)
        {
            return;
        }
        if self.best.len() < self.limit {
            self.best.push(candidate);
        } else if let Some(mut worst) = self.best.peek_mut().filter(|worst| candidate < **worst) {
            *worst = candidate;
        }
    }

    fn harvest(self) -> Vec<RankedDoc> {
        self.best.into_iter().map(|ByRank(doc)| doc).collect()
    }
}
