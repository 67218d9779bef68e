//! How long to wait before starting a service that stopped: doubling from `initial` up to
//! `max`, and back to `initial` once a run lasted `stable_after`, so a service that crashes once
//! in a while comes back at once while one that cannot start does not spin.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub stable_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct RestartBackoff {
    policy: RestartPolicy,
    next: Duration,
}

impl RestartBackoff {
    pub fn new(policy: RestartPolicy) -> Self {
        Self {
            policy,
            next: policy.initial,
        }
    }

    /// The wait before the next start, after a run that lasted `ran_for`.
    pub fn after_run(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.policy.stable_after {
            self.next = self.policy.initial;
        }
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.policy.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn policy() -> RestartPolicy {
        RestartPolicy {
            initial: SECOND,
            max: 8 * SECOND,
            stable_after: 60 * SECOND,
        }
    }

    #[test]
    fn quick_crashes_double_the_wait_up_to_the_cap() {
        let mut backoff = RestartBackoff::new(policy());
        let waits: Vec<u64> = (0..6)
            .map(|_| backoff.after_run(Duration::ZERO).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn a_stable_run_starts_the_backoff_over() {
        let mut backoff = RestartBackoff::new(policy());
        for _ in 0..4 {
            backoff.after_run(SECOND);
        }
        assert_eq!(backoff.after_run(59 * SECOND), 8 * SECOND);
        assert_eq!(backoff.after_run(60 * SECOND), SECOND);
        assert_eq!(backoff.after_run(SECOND), 2 * SECOND);
    }
}
