//! Latency summaries: percentiles from an HDR histogram, the mean from the exact sum.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Calls slower than this are recorded as this.
const SLOWEST_TRACKED_MICROS: u64 = 60_000_000;

/// Latencies of one sequential run, in microseconds to three significant digits.
#[derive(Clone, Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
    total: Duration,
}

impl Default for Latencies {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, SLOWEST_TRACKED_MICROS, 3)
                .expect("the bounds are valid for an HDR histogram"),
            total: Duration::ZERO,
        }
    }
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
        self.total += latency;
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn quantile(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.histogram.value_at_quantile(quantile))
    }

    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count()) {
            Ok(count) if count > 0 => self.total / count,
            _ => Duration::ZERO,
        }
    }
}

/// Milliseconds with two decimals, the unit every table of this benchmark uses.
pub fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1_000.0)
}
