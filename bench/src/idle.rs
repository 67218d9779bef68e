//! Waiting for background work in this process (the service's search indexing, for one) to
//! finish, so it does not run into the next measurement.

use std::time::{Duration, Instant};

use crate::cpu::{TICKS_PER_SECOND, process_ticks};

const SAMPLE: Duration = Duration::from_millis(500);
/// Below a tenth of a core the process counts as idle.
const IDLE_SHARE_OF_A_CORE: f64 = 0.10;

/// Waits until this process uses less than a tenth of a core over half a second, or `limit`
/// passes; returns how long it waited. Without `/proc` it returns at once.
pub async fn wait_until_idle(limit: Duration) -> Duration {
    let started = Instant::now();
    let Some(mut previous) = process_ticks(None) else {
        return Duration::ZERO;
    };
    while started.elapsed() < limit {
        tokio::time::sleep(SAMPLE).await;
        let Some(current) = process_ticks(None) else {
            break;
        };
        let busy = (current - previous) as f64 / TICKS_PER_SECOND / SAMPLE.as_secs_f64();
        if busy < IDLE_SHARE_OF_A_CORE {
            break;
        }
        previous = current;
    }
    started.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_idle_process_is_noticed_quickly() {
        let waited = wait_until_idle(Duration::from_secs(10)).await;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }
}
