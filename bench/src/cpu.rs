//! CPU time from `/proc`: of this process, and of the PostgreSQL backends serving one database,
//! so a benchmark can report what each request cost whatever else the machine was doing.

use sqlx::PgPool;

/// Linux reports CPU time in clock ticks of 1/100 s on every common architecture.
pub const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of process `pid` (`None`: this process), in clock ticks.
pub fn process_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may contain spaces; the fields after it are numbers.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // utime and stime are fields 14 and 15; the first field after the name is field 3.
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// CPU seconds used between two samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuSeconds {
    /// This process: the load generator and, in-process, the service.
    pub process: f64,
    /// PostgreSQL backends connected to the database, when PostgreSQL runs on this machine.
    pub database: Option<f64>,
}

impl CpuSeconds {
    pub fn total(&self) -> f64 {
        self.process + self.database.unwrap_or(0.0)
    }
}

impl std::ops::AddAssign for CpuSeconds {
    fn add_assign(&mut self, later: CpuSeconds) {
        self.process += later.process;
        self.database = match (self.database, later.database) {
            (Some(before), Some(after)) => Some(before + after),
            (only, None) | (None, only) => only,
        };
    }
}

/// A point to measure CPU time from.
#[derive(Clone, Debug)]
pub struct CpuSample {
    process: Option<u64>,
    backends: Vec<(u32, u64)>,
}

impl CpuSample {
    /// Samples this process and every backend connected to `pool`'s database.
    pub async fn take(pool: &PgPool) -> Self {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_default();
        let backends = pids
            .into_iter()
            .filter_map(|pid| u32::try_from(pid).ok())
            .filter_map(|pid| process_ticks(Some(pid)).map(|ticks| (pid, ticks)))
            .collect();
        Self {
            process: process_ticks(None),
            backends,
        }
    }

    /// CPU used from `self` to `later`. Backends that were not there at both samples are left
    /// out, so the pools should be open before the first sample.
    pub fn until(&self, later: &CpuSample) -> CpuSeconds {
        let process = match (self.process, later.process) {
            (Some(before), Some(after)) => after.saturating_sub(before) as f64 / TICKS_PER_SECOND,
            _ => 0.0,
        };
        let database_ticks: u64 = later
            .backends
            .iter()
            .filter_map(|(pid, after)| {
                self.backends
                    .iter()
                    .find(|(earlier, _)| earlier == pid)
                    .map(|(_, before)| after.saturating_sub(*before))
            })
            .sum();
        let database =
            (!later.backends.is_empty()).then(|| database_ticks as f64 / TICKS_PER_SECOND);
        CpuSeconds { process, database }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_of_this_process() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let before = process_ticks(None).expect("own stat");
            let mut spin = 0_u64;
            for index in 0..20_000_000_u64 {
                spin = spin.wrapping_add(index * index);
            }
            std::hint::black_box(spin);
            assert!(process_ticks(None).expect("own stat") >= before);
        }
    }
}
