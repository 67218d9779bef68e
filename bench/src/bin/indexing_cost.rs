//! Measures the CPU cost per document of keeping the index current, by commit size.
//!
//! `cargo run --release -p zayavki-bench --bin indexing_cost -- [documents] [commit sizes...]`

use std::time::Instant;

use zayavki_bench::cpu::{TICKS_PER_SECOND, process_ticks};
use zayavki_search::{SearchIndex, sample_data};

fn process_cpu_seconds() -> f64 {
    process_ticks(None).unwrap_or(0) as f64 / TICKS_PER_SECOND
}

fn main() -> anyhow::Result<()> {
    let mut arguments = std::env::args().skip(1);
    let documents: usize = arguments.next().map_or(Ok(100_000), |v| v.parse())?;
    let sizes: Vec<usize> = arguments.map(|v| v.parse()).collect::<Result<_, _>>()?;
    for size in if sizes.is_empty() {
        vec![1000, 10_000]
    } else {
        sizes
    } {
        let dir = tempfile::tempdir()?;
        let index = SearchIndex::open_or_create(dir.path())?;
        let all: Vec<_> = sample_data::generate_realistic_documents(documents, 7).collect();
        let cpu = process_cpu_seconds();
        let started = Instant::now();
        for chunk in all.chunks(size) {
            index.upsert(chunk.to_vec(), None)?;
        }
        let wall = started.elapsed();
        let used = process_cpu_seconds() - cpu;
        println!(
            "commit every {size:>6}: {:.2} s wall, {:.1} µs CPU/doc",
            wall.as_secs_f64(),
            used * 1e6 / documents as f64
        );
    }
    Ok(())
}
