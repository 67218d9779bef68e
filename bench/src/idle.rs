//! Waiting for background work in this process (the service's search indexing, for one) to
//! finish, so it does not run into the next measurement.

use std::time::{Duration, Instant};

/// Linux reports process CPU time in clock ticks of 1/100 s on every common architecture.
const TICKS_PER_SECOND: f64 = 100.0;
const SAMPLE: Duration = Duration::from_millis(500);
/// Below a tenth of a core the process counts as idle.
const IDLE_SHARE_OF_A_CORE: f64 = 0.10;

/// Waits until this process uses less than a tenth of a core over half a second, or `limit`
/// passes; returns how long it waited. Without `/proc` it returns at once.
pub async fn wait_until_idle(limit: Duration) -> Duration {
    let started = Instant::now();
    let Some(mut previous) = cpu_ticks() else {
        return Duration::ZERO;
    };
    while started.elapsed() < limit {
        tokio::time::sleep(SAMPLE).await;
        let Some(current) = cpu_ticks() else { break };
        let busy = (current - previous) as f64 / TICKS_PER_SECOND / SAMPLE.as_secs_f64();
        if busy < IDLE_SHARE_OF_A_CORE {
            break;
        }
        previous = current;
    }
    started.elapsed()
}

/// User plus system CPU time of this process so far, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; the fields after it are numbers.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // utime and stime are fields 14 and 15; the first field after the name is field 3.
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_of_this_process() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(cpu_ticks().is_some());
        }
    }

    #[tokio::test]
    async fn an_idle_process_is_noticed_quickly() {
        let waited = wait_until_idle(Duration::from_secs(10)).await;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }
}
