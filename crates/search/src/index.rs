//! The index: one writer, one reader, reloaded after every commit.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::{OpenDirectoryError, OpenReadError};
use tantivy::query::EnableScoring;
use tantivy::schema::Schema;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, TantivyError, Term,
};
use uuid::Uuid;
use zayavki_common::page_token;

use crate::analyzer::register_analyzers;
use crate::block_max::OneWordPage;
use crate::document::ApplicationDocument;
use crate::id_floors::IdFloorCache;
use crate::page_token::request_fingerprint;
use crate::query_builder::{build_query, filter_queries, one_word_terms};
use crate::query_language;
use crate::ranking::{KeysetTopDocs, RankedDoc};
use crate::request::{MAX_PAGE_SIZE, SearchError, SearchHit, SearchPage, SearchRequest};
use crate::schema::{Fields, TextField, build_schema};
use crate::snippet::Highlighter;
use crate::writer_thread::WriterThread;

/// Documents are analysed on one thread. Each indexing thread writes a segment of its own at
/// every commit, so a second one doubles the segments to write and merge: on two cores it
/// costs more CPU per document (68 against 46 µs committing every 1,000 documents,
/// `bench/src/bin/indexing_cost.rs`) than it saves in time, and that CPU is taken from requests.
const INDEXING_THREADS: usize = 1;
/// Memory for documents waiting to be written as a segment; tantivy needs at least 15 MB.
/// A full buffer writes a segment, so a rebuild writes one per this much.
const INDEXING_MEMORY: usize = 64 * 1024 * 1024;

/// Why an index directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum IndexOpenError {
    /// The files are damaged or were written with another schema or analyzer version. The
    /// index is derived data: delete the directory and rebuild it from the database.
    #[error("search index at {} is corrupt or incompatible: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// Another writer (most likely another process) holds the directory's lock.
    #[error("search index at {} is locked by another writer", path.display())]
    Locked { path: PathBuf },
    /// The directory could not be created or read; deleting it would not help.
    #[error("search index at {} could not be opened", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What each commit records next to the data.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitPayload {
    /// How far the index has caught up with its source, in the caller's own units.
    watermark: Option<u64>,
}

impl CommitPayload {
    fn parse(payload: Option<&str>) -> Result<CommitPayload, serde_json::Error> {
        payload.map_or(Ok(CommitPayload::default()), serde_json::from_str)
    }
}

/// The full-text index of applications.
///
/// Cheap to clone (the state is shared) and safe to use from many threads. Searches run
/// concurrently; writes are serialised. Writing is CPU-bound and blocking: call
/// [`upsert`](Self::upsert), [`delete`](Self::delete) and [`clear`](Self::clear) from a blocking
/// thread (`spawn_blocking`), not from async code.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

struct Inner {
    fields: Fields,
    reader: IndexReader,
    /// Used only on `writer_thread`.
    writer: Mutex<IndexWriter>,
    writer_thread: WriterThread,
    /// Kept up to date by the reader as it warms each new searcher (held weakly there).
    id_floors: Arc<IdFloorCache>,
    /// The watermark of the last commit, cached so reading it needs no disk access.
    watermark: Mutex<Option<u64>>,
}

impl fmt::Debug for SearchIndex {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SearchIndex")
            .field("documents", &self.document_count())
            .field("watermark", &self.watermark())
            .finish()
    }
}

fn index_builder(schema: Schema) -> tantivy::IndexBuilder {
    let tokenizers = TokenizerManager::default();
    register_analyzers(&tokenizers);
    Index::builder().schema(schema).tokenizers(tokenizers)
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and an empty index when needed.
    #[tracing::instrument(skip_all, fields(dir = %dir.display()))]
    pub fn open_or_create(dir: &Path) -> Result<SearchIndex, IndexOpenError> {
        let path = dir.to_path_buf();
        std::fs::create_dir_all(dir).map_err(|source| IndexOpenError::Io {
            path: path.clone(),
            source,
        })?;
        let directory = MmapDirectory::open(dir)
            .map_err(|error| classify_open_error(&path, TantivyError::from(error)))?;
        let (schema, fields) = build_schema();
        let index = index_builder(schema)
            .open_or_create(directory)
            .map_err(|error| classify_open_error(&path, error))?;
        let damaged = index
            .validate_checksum()
            .map_err(|error| classify_open_error(&path, error))?;
        if !damaged.is_empty() {
            return Err(IndexOpenError::Corrupt {
                path,
                reason: format!("{} file(s) fail their checksum", damaged.len()),
            });
        }
        let search_index = SearchIndex::from_index(index, fields)
            .map_err(|error| classify_open_error(&path, error))?;
        tracing::info!(
            documents = search_index.document_count(),
            watermark = ?search_index.watermark(),
            "search index opened"
        );
        Ok(search_index)
    }

    /// An empty index in memory, for tests and benchmarks.
    pub fn create_in_ram() -> anyhow::Result<SearchIndex> {
        let (schema, fields) = build_schema();
        let index = index_builder(schema)
            .create_in_ram()
            .context("creating the in-memory search index")?;
        SearchIndex::from_index(index, fields).context("opening the in-memory search index")
    }

    fn from_index(index: Index, fields: Fields) -> tantivy::Result<SearchIndex> {
        let payload = index.load_metas()?.payload;
        let payload = CommitPayload::parse(payload.as_deref()).map_err(|error| {
            TantivyError::SchemaError(format!("unexpected commit payload: {error}"))
        })?;
        let writer_thread = WriterThread::start()?;
        let writer_index = index.clone();
        let writer = writer_thread
            .run(move || writer_index.writer_with_num_threads(INDEXING_THREADS, INDEXING_MEMORY))
            .map_err(|error| TantivyError::SystemError(format!("{error:#}")))??;
        let id_floors = Arc::new(IdFloorCache::default());
        let warmer: Arc<dyn tantivy::Warmer> = id_floors.clone();
        let reader = index
            .reader_builder()
            .warmers(vec![Arc::downgrade(&warmer)])
            // Commits reload the reader themselves, so their documents are visible as soon as
            // `upsert` returns; the watcher also picks up merges finished in the background,
            // which keeps the number of segments a search walks small.
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(SearchIndex {
            inner: Arc::new(Inner {
                fields,
                reader,
                writer: Mutex::new(writer),
                writer_thread,
                id_floors,
                watermark: Mutex::new(payload.watermark),
            }),
        })
    }

    /// Adds `documents`, replacing any document with the same id, and commits.
    ///
    /// The commit records `watermark` (a `None` keeps the previous one). When this returns,
    /// the documents are durable and visible to searches. If a batch holds the same id twice,
    /// the later document wins.
    #[tracing::instrument(skip_all, fields(documents = documents.len(), ?watermark))]
    pub fn upsert(
        &self,
        documents: Vec<ApplicationDocument>,
        watermark: Option<u64>,
    ) -> anyhow::Result<()> {
        let index = self.clone();
        self.on_writer_thread(move || index.upsert_here(documents, watermark))
    }

    fn upsert_here(
        &self,
        documents: Vec<ApplicationDocument>,
        watermark: Option<u64>,
    ) -> anyhow::Result<()> {
        let mut writer = self.lock_writer();
        let watermark = watermark.or_else(|| self.watermark());
        let fields = &self.inner.fields;
        let result = documents
            .iter()
            .try_for_each(|document| {
                writer.delete_term(id_term(fields, document.id));
                writer.add_document(to_tantivy_document(fields, document))?;
                Ok(())
            })
            .and_then(|()| self.commit(&mut writer, watermark));
        abandon_on_error(&mut writer, result).context("indexing applications")
    }

    /// Removes the documents with these ids (unknown ids are ignored) and commits, like
    /// [`upsert`](Self::upsert).
    #[tracing::instrument(skip_all, fields(ids = ids.len(), ?watermark))]
    pub fn delete(&self, ids: &[Uuid], watermark: Option<u64>) -> anyhow::Result<()> {
        let index = self.clone();
        let ids = ids.to_vec();
        self.on_writer_thread(move || index.delete_here(&ids, watermark))
    }

    fn delete_here(&self, ids: &[Uuid], watermark: Option<u64>) -> anyhow::Result<()> {
        let mut writer = self.lock_writer();
        let watermark = watermark.or_else(|| self.watermark());
        for id in ids {
            writer.delete_term(id_term(&self.inner.fields, *id));
        }
        let result = self.commit(&mut writer, watermark);
        abandon_on_error(&mut writer, result).context("deleting applications")
    }

    /// Removes every document and commits with no watermark, so a rebuild starts from scratch.
    #[tracing::instrument(skip_all)]
    pub fn clear(&self) -> anyhow::Result<()> {
        let index = self.clone();
        self.on_writer_thread(move || index.clear_here())
    }

    fn clear_here(&self) -> anyhow::Result<()> {
        let mut writer = self.lock_writer();
        let result = writer
            .delete_all_documents()
            .and_then(|_| self.commit(&mut writer, None));
        abandon_on_error(&mut writer, result).context("clearing the search index")
    }

    /// The watermark recorded by the last commit; survives reopening the index.
    pub fn watermark(&self) -> Option<u64> {
        *self
            .inner
            .watermark
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of documents visible to searches.
    pub fn document_count(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// Runs a search; see [`SearchRequest`] and the crate documentation.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchPage, SearchError> {
        self.search_announcing_hits(request, |_| {})
    }

    /// [`search`](Self::search), calling `on_ranked` with the page's ids, best first, as soon
    /// as they are known and before the snippets are built: a caller that fetches the hits
    /// from elsewhere can start doing so meanwhile. Not called when the search fails.
    pub fn search_announcing_hits(
        &self,
        request: &SearchRequest,
        on_ranked: impl FnOnce(Vec<Uuid>),
    ) -> Result<SearchPage, SearchError> {
        let page_size = request.page_size;
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(SearchError::InvalidPageSize(page_size));
        }
        let parsed = query_language::parse(&request.query)?;
        let fingerprint = request_fingerprint(request);
        let after = request
            .page_token
            .as_deref()
            .map(|token| page_token::decode(token, fingerprint))
            .transpose()
            .map_err(|error| SearchError::InvalidPageToken(error.to_string()))?;
        let empty_range = match (request.applied_from, request.applied_before) {
            (Some(from), Some(before)) => from >= before,
            _ => false,
        };
        if empty_range {
            on_ranked(Vec::new());
            return Ok(SearchPage {
                hits: Vec::new(),
                next_page_token: None,
            });
        }

        let fields = &self.inner.fields;
        let searcher = self.inner.reader.searcher();
        // One extra hit tells whether another page follows.
        let limit = page_size + 1;
        let searched = match one_word_terms(&parsed, fields) {
            Some(terms) => {
                let scoring = EnableScoring::enabled_from_searcher(&searcher);
                filter_queries(request, fields)
                    .iter()
                    .map(|filter| filter.weight(scoring))
                    .collect::<tantivy::Result<Vec<_>>>()
                    .and_then(|filters| {
                        OneWordPage {
                            terms,
                            filters,
                            floors: &self.inner.id_floors,
                            limit,
                            after,
                        }
                        .rank(&searcher)
                    })
            }
            None => {
                let query = build_query(&parsed, request, fields);
                searcher.search(&*query, &KeysetTopDocs { limit, after })
            }
        };
        let mut ranked = searched.map_err(searching_failed)?;
        let next_page_token = if ranked.len() > page_size {
            ranked.truncate(page_size);
            ranked
                .last()
                .map(|last| page_token::encode(&last.position, fingerprint))
        } else {
            None
        };
        on_ranked(
            ranked
                .iter()
                .map(|ranked_doc| Uuid::from_u128(ranked_doc.position.id))
                .collect(),
        );
        let mut highlighter = Highlighter::new(&parsed, fields);
        let hits = ranked
            .iter()
            .map(|ranked_doc| hit(&searcher, &mut highlighter, ranked_doc))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SearchPage {
            hits,
            next_page_token,
        })
    }

    /// Runs a write on the writer thread (see `writer_thread`) and waits for it.
    fn on_writer_thread(
        &self,
        write: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.inner.writer_thread.run(write)?
    }

    /// The writer, taken back from a thread that panicked while holding it: its uncommitted
    /// changes are rolled back, the last commit is intact.
    fn lock_writer(&self) -> MutexGuard<'_, IndexWriter> {
        self.inner.writer.lock().unwrap_or_else(|poisoned| {
            self.inner.writer.clear_poison();
            let mut writer = poisoned.into_inner();
            if let Err(error) = writer.rollback() {
                tracing::error!(%error, "rolling back the search index writer failed");
            }
            writer
        })
    }

    /// Commits with `watermark` in the payload and makes the commit visible to searches.
    fn commit(&self, writer: &mut IndexWriter, watermark: Option<u64>) -> tantivy::Result<()> {
        let payload = serde_json::to_string(&CommitPayload { watermark })
            .map_err(|error| TantivyError::InternalError(error.to_string()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        let opstamp = prepared.commit()?;
        *self
            .inner
            .watermark
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = watermark;
        self.inner.reader.reload()?;
        tracing::debug!(opstamp, ?watermark, "search index committed");
        Ok(())
    }
}

/// After a failed write, drops whatever was not committed so the next write starts clean.
fn abandon_on_error(writer: &mut IndexWriter, result: tantivy::Result<()>) -> tantivy::Result<()> {
    let rolled_back = match result {
        Ok(()) => Ok(()),
        Err(_) => writer.rollback().map(drop),
    };
    if let Err(error) = rolled_back {
        tracing::error!(%error, "rolling back the search index writer failed");
    }
    result
}

fn hit(
    searcher: &Searcher,
    highlighter: &mut Highlighter,
    ranked: &RankedDoc,
) -> Result<SearchHit, SearchError> {
    let stored: TantivyDocument = searcher.doc(ranked.address).map_err(|error| {
        SearchError::Internal(anyhow::Error::new(error).context("reading a stored document"))
    })?;
    Ok(SearchHit {
        id: Uuid::from_u128(ranked.position.id),
        score: ranked.position.score,
        snippet: highlighter.snippet(&stored),
    })
}

fn searching_failed(error: TantivyError) -> SearchError {
    SearchError::Internal(anyhow::Error::new(error).context("searching"))
}

fn id_term(fields: &Fields, id: Uuid) -> Term {
    Term::from_field_bytes(fields.id, id.as_bytes())
}

fn to_tantivy_document(fields: &Fields, application: &ApplicationDocument) -> TantivyDocument {
    let mut document = TantivyDocument::default();
    let id = application.id.as_u128();
    document.add_bytes(fields.id, application.id.as_bytes());
    document.add_u64(fields.id_high, (id >> 64) as u64);
    document.add_u64(fields.id_low, id as u64);
    let mut add_text = |text: TextField, value: &str| {
        document.add_text(text.stemmed, value);
        document.add_text(text.prefix, value);
    };
    add_text(fields.title, &application.title);
    if let Some(description) = &application.description {
        add_text(fields.description, description);
    }
    for item_name in &application.item_names {
        add_text(fields.item_names, item_name);
    }
    add_text(fields.applicant, &application.applicant);
    document.add_text(fields.applicant_exact, &application.applicant);
    document.add_text(fields.status, &application.status);
    document.add_i64(fields.applied_at, application.applied_at.timestamp_micros());
    document
}

/// Sorts an opening failure into "rebuild it", "someone else has it" and "cannot reach it".
fn classify_open_error(path: &Path, error: TantivyError) -> IndexOpenError {
    let path = path.to_path_buf();
    let io = |path: PathBuf, error: &dyn std::fmt::Display, kind: std::io::ErrorKind| {
        IndexOpenError::Io {
            path,
            source: std::io::Error::new(kind, error.to_string()),
        }
    };
    match &error {
        TantivyError::LockFailure(..) => IndexOpenError::Locked { path },
        TantivyError::IoError(io_error) => io(path, io_error, io_error.kind()),
        TantivyError::OpenDirectoryError(OpenDirectoryError::IoError { io_error, .. }) => {
            io(path, io_error, io_error.kind())
        }
        TantivyError::OpenReadError(OpenReadError::IoError { io_error, .. }) => {
            io(path, io_error, io_error.kind())
        }
        TantivyError::OpenDirectoryError(_)
        | TantivyError::OpenWriteError(_)
        | TantivyError::Poisoned
        | TantivyError::ErrorInThread(_)
        | TantivyError::SystemError(_) => io(path, &error, std::io::ErrorKind::Other),
        // Damaged or foreign files: missing segment files, unreadable metadata, another
        // schema or format version.
        _ => IndexOpenError::Corrupt {
            path,
            reason: error.to_string(),
        },
    }
}
