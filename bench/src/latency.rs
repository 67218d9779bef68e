//! Request latencies in an HDR histogram: exact enough at every percentile, and cheap to merge,
//! so each caller records its own and the load loop merges them at the end.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The slowest latency recorded exactly; slower requests are clamped to it.
const HIGHEST_TRACKED: Duration = Duration::from_secs(60);
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies in microseconds, from 1 µs to a minute, to three significant digits.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
    /// The exact sum, for the mean.
    total: Duration,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        let highest = u64::try_from(HIGHEST_TRACKED.as_micros()).unwrap_or(u64::MAX);
        let histogram = Histogram::new_with_bounds(1, highest, SIGNIFICANT_DIGITS)
            .expect("the bounds are valid for an HDR histogram");
        Self {
            histogram,
            total: Duration::ZERO,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
        self.total += latency;
    }

    /// Adds everything `other` recorded.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        // Both have the same bounds, so adding cannot fail.
        self.histogram
            .add(&other.histogram)
            .expect("recorders share their bounds");
        self.total += other.total;
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency below which `quantile` (0.0–1.0) of the requests finished.
    pub fn quantile(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.histogram.value_at_quantile(quantile))
    }

    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// The exact mean, not the histogram's rounded one.
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count()) {
            Ok(count) if count > 0 => self.total / count,
            _ => Duration::ZERO,
        }
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.histogram.max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_recorders() {
        let mut fast = LatencyRecorder::new();
        let mut slow = LatencyRecorder::new();
        for _ in 0..99 {
            fast.record(Duration::from_millis(1));
        }
        slow.record(Duration::from_millis(100));
        fast.merge(&slow);
        assert_eq!(fast.count(), 100);
        assert_eq!(fast.p50().as_millis(), 1);
        assert_eq!(fast.p99().as_millis(), 1);
        assert_eq!(fast.max().as_millis(), 100);
    }
}
