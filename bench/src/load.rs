//! A closed-loop load generator bounded in time and in count: `concurrency` callers each issue
//! one request at a time until the duration is up or the request budget is spent.

use std::{
    fmt::Display,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::latency::LatencyRecorder;

/// How much load to send.
#[derive(Clone, Copy, Debug)]
pub struct LoadPlan {
    /// Callers running at once, each with one request in flight.
    pub concurrency: usize,
    /// No request starts after this much time.
    pub duration: Duration,
    /// No more than this many requests in total, whatever the duration.
    pub max_requests: u64,
    /// A request still running after this long counts as failed.
    pub request_timeout: Duration,
}

impl LoadPlan {
    pub fn new(concurrency: usize, duration: Duration) -> Self {
        Self {
            concurrency,
            duration,
            max_requests: 10_000_000,
            request_timeout: Duration::from_secs(5),
        }
    }

    pub fn with_max_requests(mut self, max_requests: u64) -> Self {
        self.max_requests = max_requests;
        self
    }
}

/// What a run measured. Latencies cover successful requests only.
#[derive(Debug)]
pub struct LoadReport {
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub latency: LatencyRecorder,
    /// The first failure, to show why requests failed.
    pub first_error: Option<String>,
}

impl LoadReport {
    /// A report of nothing yet, to [`absorb`](Self::absorb) runs into.
    pub fn empty() -> Self {
        Self {
            succeeded: 0,
            failed: 0,
            elapsed: Duration::ZERO,
            latency: LatencyRecorder::new(),
            first_error: None,
        }
    }

    /// Adds a later run of the same load: counts, latencies and elapsed time add up.
    pub fn absorb(&mut self, later: LoadReport) {
        self.succeeded += later.succeeded;
        self.failed += later.failed;
        self.elapsed += later.elapsed;
        self.latency.merge(&later.latency);
        if self.first_error.is_none() {
            self.first_error = later.first_error;
        }
    }

    /// Successful requests per second of wall time.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.succeeded as f64 / seconds
        } else {
            0.0
        }
    }
}

/// Runs `plan` with `call(caller_index)` as one request; callers are numbered from 0 so each can
/// pick its own connection. Returns when every caller has stopped.
pub async fn run_bounded<Call, Fut, Error>(plan: LoadPlan, call: Call) -> anyhow::Result<LoadReport>
where
    Call: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
    Error: Display,
{
    anyhow::ensure!(plan.concurrency > 0, "a load needs at least one caller");
    let call = Arc::new(call);
    let budget = Arc::new(AtomicU64::new(plan.max_requests));
    let started = Instant::now();
    let deadline = started + plan.duration;
    let callers: Vec<_> = (0..plan.concurrency)
        .map(|caller| {
            let call = Arc::clone(&call);
            let budget = Arc::clone(&budget);
            tokio::spawn(async move {
                let mut outcome = CallerOutcome::default();
                while Instant::now() < deadline && take_one(&budget) {
                    let sent = Instant::now();
                    match tokio::time::timeout(plan.request_timeout, call(caller)).await {
                        Ok(Ok(())) => {
                            outcome.latency.record(sent.elapsed());
                            outcome.succeeded += 1;
                        }
                        Ok(Err(error)) => outcome.fail(error.to_string()),
                        Err(_) => {
                            outcome.fail(format!("no answer within {:?}", plan.request_timeout))
                        }
                    }
                }
                outcome
            })
        })
        .collect();

    let mut report = LoadReport::empty();
    for caller in callers {
        let outcome = caller.await?;
        report.succeeded += outcome.succeeded;
        report.failed += outcome.failed;
        report.latency.merge(&outcome.latency);
        report.first_error = report.first_error.or(outcome.first_error);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[derive(Default)]
struct CallerOutcome {
    succeeded: u64,
    failed: u64,
    latency: LatencyRecorder,
    first_error: Option<String>,
}

impl CallerOutcome {
    fn fail(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
    }
}

/// Takes one request from the shared budget; false once it is spent.
fn take_one(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_at_the_request_budget() {
        let plan = LoadPlan::new(4, Duration::from_secs(10)).with_max_requests(100);
        let report = run_bounded(plan, |_| async { Ok::<(), String>(()) })
            .await
            .expect("runs");
        assert_eq!(report.succeeded, 100);
        assert_eq!(report.latency.count(), 100);
        assert!(report.elapsed < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn runs_add_up() {
        let plan = LoadPlan::new(2, Duration::from_secs(10)).with_max_requests(10);
        let mut total = LoadReport::empty();
        for _ in 0..3 {
            let run = run_bounded(plan, |_| async { Ok::<(), String>(()) })
                .await
                .expect("runs");
            total.absorb(run);
        }
        assert_eq!(total.succeeded, 30);
        assert_eq!(total.latency.count(), 30);
    }

    #[tokio::test]
    async fn stops_at_the_deadline_and_counts_failures() {
        let plan = LoadPlan::new(2, Duration::from_millis(50));
        let report = run_bounded(plan, |_| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Err::<(), _>("refused")
        })
        .await
        .expect("runs");
        assert_eq!(report.succeeded, 0);
        assert!(report.failed > 0);
        assert_eq!(report.first_error.as_deref(), Some("refused"));
    }
}
