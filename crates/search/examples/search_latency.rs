//! Measures search latency on generated applications.
//!
//! `cargo run --release -p zayavki-search --example search_latency -- [documents] [rounds] [page size]`
//!
//! With `SEARCH_LATENCY_INDEX_DIR` set, the index is kept in that directory and reused by the
//! next run when it already holds documents.

use std::time::{Duration, Instant};

use zayavki_search::{SearchIndex, SearchRequest, sample_data};

const QUERIES: &[&str] = &[
    "ложки",
    "бумага а4",
    "картридж hp",
    "\"ложка чайная\"",
    "монитор*",
    "лож*",
    "stirring spoons",
    "laptop 16 gb",
    "кресло руководителя кожаное",
    "несуществующееслово",
];

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

fn main() -> anyhow::Result<()> {
    let mut arguments = std::env::args().skip(1);
    let documents: usize = arguments
        .next()
        .map_or(Ok(100_000), |value| value.parse())?;
    let rounds: usize = arguments.next().map_or(Ok(200), |value| value.parse())?;
    let page_size: usize = arguments.next().map_or(Ok(20), |value| value.parse())?;

    let index = match std::env::var_os("SEARCH_LATENCY_INDEX_DIR") {
        Some(dir) => SearchIndex::open_or_create(std::path::Path::new(&dir))?,
        None => SearchIndex::create_in_ram()?,
    };
    let started = Instant::now();
    let fill = index.document_count() == 0;
    let mut generated = sample_data::generate_realistic_documents(documents, 42).peekable();
    while fill && generated.peek().is_some() {
        let batch: Vec<_> = generated.by_ref().take(10_000).collect();
        index.upsert(batch, None)?;
    }
    println!(
        "indexed {} documents in {:.1?}",
        index.document_count(),
        started.elapsed()
    );

    println!(
        "{:<30} {:>7} {:>9} {:>9} {:>9}",
        "query", "hits", "p50", "p95", "p99"
    );
    let mut all = Vec::new();
    for query in QUERIES {
        let request = SearchRequest {
            page_size,
            ..SearchRequest::new(*query)
        };
        let mut timings = Vec::with_capacity(rounds);
        let mut hits = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            hits = index.search(&request)?.hits.len();
            timings.push(started.elapsed());
        }
        timings.sort();
        println!(
            "{:<30} {:>7} {:>9.1?} {:>9.1?} {:>9.1?}",
            query,
            hits,
            percentile(&timings, 0.5),
            percentile(&timings, 0.95),
            percentile(&timings, 0.99)
        );
        all.extend(timings);
    }
    all.sort();
    println!(
        "{:<30} {:>7} {:>9.1?} {:>9.1?} {:>9.1?}",
        "all queries",
        "",
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 0.99)
    );
    Ok(())
}
