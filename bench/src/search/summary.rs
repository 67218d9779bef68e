//! Latency summaries for the search benchmark's tables.

use std::time::Duration;

/// Latencies of one sequential run: percentiles and the exact mean.
pub type Latencies = crate::latency::LatencyRecorder;

/// Milliseconds with two decimals, the unit every table of this benchmark uses.
pub fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1_000.0)
}
