//! The smallest id in each run of documents of a segment, kept for every live segment.
//!
//! Ties in score are broken by id, so a run of documents can be passed over when none of them
//! can outscore the page's worst hit and each has a larger id (see `block_max`). The high half
//! of the id decides: a run is passed over only when every high half in it is larger.
//!
//! The floors are computed when a new searcher generation is warmed (after a commit or a merge,
//! before searches see it), once per segment, and dropped with the segment.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SearcherGeneration, SegmentReader, Warmer};

use crate::schema::ID_HIGH_FIELD;

/// Documents per run: one floor per 128 documents, 64 KB for a million documents.
const RUN_DOCS: usize = 128;

/// The floors of one segment.
#[derive(Debug)]
pub(crate) struct IdFloors {
    /// The smallest high half of an id in each run of [`RUN_DOCS`] documents, in document order
    /// (deleted documents included, which only lowers a floor).
    runs: Vec<u64>,
    /// The smallest of all.
    smallest: u64,
}

impl IdFloors {
    fn compute(reader: &SegmentReader) -> tantivy::Result<IdFloors> {
        let column = reader
            .fast_fields()
            .u64(ID_HIGH_FIELD)?
            .first_or_default_col(0);
        let max_doc = reader.max_doc() as usize;
        let mut buffer = vec![0_u64; RUN_DOCS];
        let mut runs = Vec::with_capacity(max_doc.div_ceil(RUN_DOCS));
        for start in (0..max_doc).step_by(RUN_DOCS) {
            let run = &mut buffer[..RUN_DOCS.min(max_doc - start)];
            column.get_range(start as u64, run);
            runs.push(run.iter().copied().min().unwrap_or(u64::MAX));
        }
        Ok(IdFloors::from_runs(runs))
    }

    fn from_runs(runs: Vec<u64>) -> IdFloors {
        let smallest = runs.iter().copied().min().unwrap_or(u64::MAX);
        IdFloors { runs, smallest }
    }

    /// The smallest high half in the segment.
    pub fn smallest(&self) -> u64 {
        self.smallest
    }

    /// Whether every document from `first` to `last` (both included) has an id whose high half
    /// is larger than `high`.
    pub fn all_above(&self, first: DocId, last: DocId, high: u64) -> bool {
        let first_run = first as usize / RUN_DOCS;
        let last_run = last as usize / RUN_DOCS;
        self.runs
            .get(first_run..=last_run)
            .is_some_and(|runs| runs.iter().all(|&floor| floor > high))
    }
}

/// Floors of every segment a live searcher uses; a tantivy [`Warmer`].
#[derive(Debug, Default)]
pub(crate) struct IdFloorCache {
    by_segment: Mutex<HashMap<SegmentId, Arc<IdFloors>>>,
}

impl IdFloorCache {
    /// The floors of `reader`'s segment, if they were computed.
    pub fn get(&self, reader: &SegmentReader) -> Option<Arc<IdFloors>> {
        self.by_segment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&reader.segment_id())
            .cloned()
    }
}

impl Warmer for IdFloorCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for reader in searcher.segment_readers() {
            if self.get(reader).is_none() {
                let floors = Arc::new(IdFloors::compute(reader)?);
                self.by_segment
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(reader.segment_id(), floors);
            }
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: HashSet<SegmentId> = live_generations
            .iter()
            .flat_map(|generation| generation.segments().keys().copied())
            .collect();
        self.by_segment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|segment, _| live.contains(segment));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floors(ids: &[u64]) -> IdFloors {
        IdFloors::from_runs(
            ids.chunks(RUN_DOCS)
                .map(|run| run.iter().copied().min().unwrap_or(u64::MAX))
                .collect(),
        )
    }

    #[test]
    fn a_range_is_above_only_when_every_run_it_touches_is() {
        // Increasing ids, except one small id in the third run.
        let mut ids: Vec<u64> = (0..(4 * RUN_DOCS as u64)).map(|doc| 1_000 + doc).collect();
        ids[2 * RUN_DOCS + 5] = 3;
        let floors = floors(&ids);
        let doc = |run: usize, offset: usize| (run * RUN_DOCS + offset) as DocId;

        assert!(floors.all_above(doc(1, 0), doc(1, 127), 1_000 + RUN_DOCS as u64 - 1));
        assert!(!floors.all_above(doc(1, 0), doc(1, 127), 1_000 + RUN_DOCS as u64));
        // The run holding the small id is never above it, whichever part of it is asked for.
        assert!(!floors.all_above(doc(2, 100), doc(2, 120), 3));
        assert!(floors.all_above(doc(2, 100), doc(2, 120), 2));
        assert!(!floors.all_above(doc(1, 10), doc(3, 0), 500));
        assert!(floors.all_above(doc(3, 0), doc(3, 127), 500));
        // Past the segment's end nothing is known.
        assert!(!floors.all_above(doc(3, 0), doc(4, 0), 0));
        assert_eq!(floors.smallest(), 3);
    }
}
