//! One-word queries, ranked a block of postings at a time.
//!
//! A one-word query matches the documents holding the word in any text (title, item names,
//! description, applicant); a document scores the sum of its BM25 scores in those texts. Each
//! text's posting list is stored in blocks of 128 documents, and every block records the best
//! score any of its documents has (for a full block: the term frequency and text length that
//! score highest, chosen when the segment was written). Once the page is full, the documents up
//! to the end of the nearest block are passed over, their lengths never read and their scores
//! never added up, when the sum of the blocks' best scores cannot beat the page's worst hit:
//! it is lower, or equal and every id in the stretch is larger ([`IdFloors`]). This is the
//! block-max idea of block-max WAND, with ties settled by id as every page is.
//!
//! For a block's best score to be an exact bound, a text's length is normalised by the average
//! length of that text in the document's own segment, the average the block's best pair was
//! chosen with; the inverse document frequency is the whole index's. (tantivy's own scoring
//! takes the average over all segments, against which a block's recorded best can fall slightly
//! short, and a document that belongs on the page could be passed over.) Scores are added up in
//! the fixed order of the texts, so a document scores the same on every page.

use std::sync::Arc;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::BlockSegmentPostings;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, Searcher, SegmentOrdinal, SegmentReader, TERMINATED, Term};

use crate::id_floors::{IdFloorCache, IdFloors};
use crate::page_token::RankPosition;
use crate::ranking::{PageHeap, RankedDoc, SegmentIds, best_first};

/// The word as indexed in one text, and the text's weight.
pub(crate) struct WeightedTerm {
    pub term: Term,
    pub boost: Score,
}

/// A page of a one-word query.
pub(crate) struct OneWordPage<'a> {
    /// The word in each text, in a fixed order.
    pub terms: Vec<WeightedTerm>,
    /// Conditions every document must meet (status, applicant, dates).
    pub filters: Vec<Box<dyn Weight>>,
    pub floors: &'a IdFloorCache,
    pub limit: usize,
    pub after: Option<RankPosition>,
}

impl OneWordPage<'_> {
    /// The page's documents, best first.
    pub fn rank(&self, searcher: &Searcher) -> tantivy::Result<Vec<RankedDoc>> {
        let statistics = IndexStatistics {
            documents: Bm25StatisticsProvider::total_num_docs(searcher)?,
            doc_freqs: self
                .terms
                .iter()
                .map(|term| searcher.doc_freq(&term.term))
                .collect::<tantivy::Result<_>>()?,
        };
        let mut segments: Vec<(SegmentOrdinal, &SegmentReader, Option<Arc<IdFloors>>)> = searcher
            .segment_readers()
            .iter()
            .enumerate()
            .map(|(ord, reader)| (ord as SegmentOrdinal, reader, self.floors.get(reader)))
            .collect();
        // Ids grow with time (UUIDv7), so the segment with the oldest documents fills the page
        // with the smallest ids of a tie first, and later segments' ties are passed over.
        segments.sort_by_key(|(_, _, floors)| floors.as_ref().map_or(u64::MAX, |f| f.smallest()));
        let mut page = PageHeap::new(self.limit, self.after);
        for (segment_ord, reader, floors) in segments {
            self.rank_segment(
                &mut page,
                &statistics,
                segment_ord,
                reader,
                floors.as_deref(),
            )?;
        }
        Ok(best_first(page.into_docs(), self.limit))
    }

    fn rank_segment(
        &self,
        page: &mut PageHeap,
        statistics: &IndexStatistics,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
        floors: Option<&IdFloors>,
    ) -> tantivy::Result<()> {
        let mut texts = Vec::with_capacity(self.terms.len());
        for (term, &doc_freq) in self.terms.iter().zip(&statistics.doc_freqs) {
            texts.extend(TextCursor::open(
                reader,
                term,
                doc_freq,
                statistics.documents,
            )?);
        }
        if texts.is_empty() {
            return Ok(());
        }
        let mut filters = self
            .filters
            .iter()
            .map(|filter| filter.scorer(reader, 1.0))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let ids = SegmentIds::open(segment_ord, reader)?;
        let alive = reader.alive_bitset();
        let mut score_and_offer = |page: &mut PageHeap, texts: &mut [TextCursor], doc: DocId| {
            let mut score: Score = 0.0;
            for text in texts.iter_mut().filter(|text| text.doc() == doc) {
                let text_score = text.score();
                debug_assert!(
                    text_score <= text.block_max(),
                    "a block's best score is a bound"
                );
                score += text_score;
                text.next();
            }
            let counts = alive.is_none_or(|alive| alive.is_alive(doc))
                && filters.iter_mut().all(|filter| positioned_on(filter, doc));
            if counts {
                page.offer(&ids, doc, score);
            }
        };
        loop {
            let first = next_doc(&texts);
            if first == TERMINATED {
                return Ok(());
            }
            let Some(worst) = page.worst() else {
                score_and_offer(page, &mut texts, first);
                continue;
            };
            // The stretch up to the end of the nearest block: every text holding a document
            // in it has it in its current block.
            let last = texts
                .iter()
                .filter(|text| text.doc() != TERMINATED)
                .map(TextCursor::last_in_block)
                .min()
                .unwrap_or(TERMINATED);
            // Added up in the texts' order, like a document's score, so it bounds every sum.
            let bound = texts.iter_mut().fold(0.0, |sum: Score, text| {
                if text.doc() <= last {
                    sum + text.block_max()
                } else {
                    sum
                }
            });
            let passed_over = bound < worst.score
                || (bound == worst.score
                    && floors
                        .is_some_and(|floors| floors.all_above(first, last, high_half(worst.id))));
            if passed_over {
                for text in texts.iter_mut().filter(|text| text.doc() <= last) {
                    text.skip_past(last);
                }
            } else {
                let mut doc = first;
                while doc <= last {
                    score_and_offer(page, &mut texts, doc);
                    doc = next_doc(&texts);
                }
            }
        }
    }
}

/// What idf is computed from: the whole index.
struct IndexStatistics {
    documents: u64,
    doc_freqs: Vec<u64>,
}

fn high_half(id: u128) -> u64 {
    (id >> 64) as u64
}

fn next_doc(texts: &[TextCursor]) -> DocId {
    texts
        .iter()
        .map(TextCursor::doc)
        .min()
        .unwrap_or(TERMINATED)
}

/// Moves `scorer` forward to `doc` if it is behind; whether it holds `doc`. Documents are
/// visited in increasing order, so scorers only ever move forward.
fn positioned_on(scorer: &mut Box<dyn Scorer>, doc: DocId) -> bool {
    let current = scorer.doc();
    let current = if current < doc && current != TERMINATED {
        scorer.seek(doc)
    } else {
        current
    };
    current == doc
}

/// A position in one text's posting list of the word.
struct TextCursor {
    postings: BlockSegmentPostings,
    lengths: FieldNormReader,
    weight: Bm25Weight,
    /// Index of the current document in the current block.
    at: usize,
}

impl TextCursor {
    /// None when no document of the segment holds the word in this text.
    fn open(
        reader: &SegmentReader,
        word: &WeightedTerm,
        doc_freq: u64,
        documents: u64,
    ) -> tantivy::Result<Option<TextCursor>> {
        let field = word.term.field();
        let inverted_index = reader.inverted_index(field)?;
        let Some(postings) =
            inverted_index.read_block_postings(&word.term, IndexRecordOption::WithFreqs)?
        else {
            return Ok(None);
        };
        let lengths = reader.get_fieldnorms_reader(field)?;
        // Computed exactly as when the segment's block maxima were chosen.
        let average_length =
            inverted_index.total_num_tokens() as Score / lengths.num_docs() as Score;
        let weight = Bm25Weight::for_one_term_without_explain(doc_freq, documents, average_length)
            .boost_by(word.boost);
        Ok(Some(TextCursor {
            postings,
            lengths,
            weight,
            at: 0,
        }))
    }

    fn doc(&self) -> DocId {
        self.postings
            .docs()
            .get(self.at)
            .copied()
            .unwrap_or(TERMINATED)
    }

    fn last_in_block(&self) -> DocId {
        self.postings.docs().last().copied().unwrap_or(TERMINATED)
    }

    fn score(&self) -> Score {
        let doc = self.doc();
        self.weight.score(
            self.lengths.fieldnorm_id(doc),
            self.postings.freqs()[self.at],
        )
    }

    /// The best score of a document in the current block.
    fn block_max(&mut self) -> Score {
        self.postings.block_max_score(&self.lengths, &self.weight)
    }

    /// Moves to the next document.
    fn next(&mut self) {
        self.at += 1;
        if self.at >= self.postings.block_len() {
            self.postings.advance();
            self.at = 0;
        }
    }

    /// Moves to the first document after `last`, loading only the block that holds it.
    fn skip_past(&mut self, last: DocId) {
        let target = last + 1;
        self.postings.seek(target);
        let docs = self.postings.docs();
        self.at = docs.partition_point(|&doc| doc < target);
        if self.at >= docs.len() && !docs.is_empty() {
            self.postings.advance();
            self.at = 0;
        }
    }
}
