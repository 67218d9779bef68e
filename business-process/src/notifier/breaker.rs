//! A circuit breaker on resilience4j's count-based model, so a service that is down is left
//! alone for a while instead of being called (and waited for) again and again.
//!
//! - **Closed**: calls go through; the outcomes of the last `window` calls are kept. Once at
//!   least `minimum_calls` were made and `failure_rate_percent` or more of them failed, it opens.
//! - **Open**: every call is refused at once, for `open_for`. The first call asked for after that
//!   turns it half-open (resilience4j's default: no timer of its own, the next caller finds out).
//! - **Half-open**: `half_open_trials` calls go through as trials, further calls are refused until
//!   they are settled. All trials succeed: closed, with an empty window. Any trial fails: open
//!   again for another `open_for`.
//!
//! A call is a [`Permit`]: settle it with `succeeded` or `failed`. Outcomes of calls permitted
//! before the last change of state are ignored (a slow call from the closed state says nothing
//! about a trial), and a permit dropped unsettled gives its trial back.
//!
//! Every change of state is sent to [`CircuitBreaker::subscribe`]rs as a [`Transition`], in
//! order. Time comes from a [`Clock`], so tests move it by hand.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use tokio::sync::broadcast;

/// Transitions kept for a subscriber that has not read them yet; one that falls further behind
/// skips the oldest and can read the current state instead.
const TRANSITIONS_BUFFERED: usize = 64;

/// When the breaker opens and for how long; `Default` has our defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerSettings {
    /// How many of the latest calls the failure rate is taken over.
    pub window: usize,
    /// How many calls the window must hold before the rate counts.
    pub minimum_calls: usize,
    /// Opens when at least this share of the window failed.
    pub failure_rate_percent: u8,
    /// How long it stays open before trial calls go through.
    pub open_for: Duration,
    /// How many trial calls a half-open breaker lets through.
    pub half_open_trials: usize,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            window: 10,
            minimum_calls: 5,
            failure_rate_percent: 50,
            open_for: Duration::from_secs(30),
            half_open_trials: 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    /// The value of the `zayavki_notifier_breaker_state` gauge.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half-open",
            Self::Open => "open",
        }
    }
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One change of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
}

/// Where the breaker reads the time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The machine's monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A call was refused without being made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the circuit breaker is {state}")]
pub struct Rejected {
    pub state: BreakerState,
    /// How long until an open breaker lets trials through; `None` when half-open with every
    /// trial taken (it depends on how those end).
    pub retry_in: Option<Duration>,
}

/// Shared by every clone.
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    settings: BreakerSettings,
    clock: Arc<dyn Clock>,
    machine: Mutex<Machine>,
    transitions: broadcast::Sender<Transition>,
}

struct Machine {
    phase: Phase,
    /// Bumped at every change of state; a permit remembers the one it was given in.
    generation: u64,
}

enum Phase {
    /// Outcomes of the latest calls, oldest first; `true` is a failure.
    Closed {
        outcomes: VecDeque<bool>,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        trials_left: usize,
        successes: usize,
    },
}

impl Phase {
    fn state(&self) -> BreakerState {
        match self {
            Self::Closed { .. } => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

impl CircuitBreaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    pub fn with_clock(settings: BreakerSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                clock,
                machine: Mutex::new(Machine {
                    phase: Phase::Closed {
                        outcomes: VecDeque::new(),
                    },
                    generation: 0,
                }),
                transitions: broadcast::channel(TRANSITIONS_BUFFERED).0,
            }),
        }
    }

    /// Every change of state from now on, in order.
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.shared.transitions.subscribe()
    }

    /// The state as of the last call or outcome (an open breaker whose wait is over stays open
    /// until someone asks for a call).
    pub fn state(&self) -> BreakerState {
        self.shared.lock().phase.state()
    }

    /// While open and still waiting: when trials will be let through.
    pub fn open_until(&self) -> Option<Instant> {
        match self.shared.lock().phase {
            Phase::Open { until } if until > self.shared.clock.now() => Some(until),
            _ => None,
        }
    }

    /// Asks to make one call.
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let now = self.shared.clock.now();
        let mut machine = self.shared.lock();
        if let Phase::Open { until } = machine.phase
            && now >= until
        {
            self.shared.enter(
                &mut machine,
                Phase::HalfOpen {
                    trials_left: self.shared.settings.half_open_trials,
                    successes: 0,
                },
            );
        }
        match &mut machine.phase {
            Phase::Closed { .. } => {}
            Phase::Open { until } => {
                return Err(Rejected {
                    state: BreakerState::Open,
                    retry_in: Some(until.saturating_duration_since(now)),
                });
            }
            Phase::HalfOpen { trials_left, .. } => {
                if *trials_left == 0 {
                    return Err(Rejected {
                        state: BreakerState::HalfOpen,
                        retry_in: None,
                    });
                }
                *trials_left -= 1;
            }
        }
        Ok(Permit {
            shared: self.shared.clone(),
            generation: machine.generation,
            settled: false,
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Machine> {
        // The state stays consistent between statements, so a panic elsewhere while holding the
        // lock leaves nothing half-done.
        self.machine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sent while the lock is held, so subscribers see transitions in the order they happened.
    fn enter(&self, machine: &mut Machine, phase: Phase) {
        let transition = Transition {
            from: machine.phase.state(),
            to: phase.state(),
        };
        machine.phase = phase;
        machine.generation += 1;
        // An error only means nobody is subscribed.
        let _ = self.transitions.send(transition);
    }

    fn record(&self, generation: u64, failed: bool) {
        let now = self.clock.now();
        let mut machine = self.lock();
        if machine.generation != generation {
            return;
        }
        let settings = &self.settings;
        let next = match &mut machine.phase {
            Phase::Closed { outcomes } => {
                outcomes.push_back(failed);
                while outcomes.len() > settings.window {
                    outcomes.pop_front();
                }
                let failures = outcomes.iter().filter(|failed| **failed).count();
                let over_threshold =
                    failures * 100 >= usize::from(settings.failure_rate_percent) * outcomes.len();
                (outcomes.len() >= settings.minimum_calls && over_threshold).then(|| Phase::Open {
                    until: now + settings.open_for,
                })
            }
            Phase::HalfOpen { .. } if failed => Some(Phase::Open {
                until: now + settings.open_for,
            }),
            Phase::HalfOpen { successes, .. } => {
                *successes += 1;
                (*successes >= settings.half_open_trials).then(|| Phase::Closed {
                    outcomes: VecDeque::new(),
                })
            }
            Phase::Open { .. } => None,
        };
        if let Some(phase) = next {
            self.enter(&mut machine, phase);
        }
    }

    fn give_back(&self, generation: u64) {
        let mut machine = self.lock();
        if machine.generation != generation {
            return;
        }
        if let Phase::HalfOpen { trials_left, .. } = &mut machine.phase {
            *trials_left += 1;
        }
    }
}

/// Leave to make one call; settle it with its outcome.
pub struct Permit {
    shared: Arc<Shared>,
    generation: u64,
    settled: bool,
}

impl Permit {
    pub fn succeeded(mut self) {
        self.settled = true;
        self.shared.record(self.generation, false);
    }

    pub fn failed(mut self) {
        self.settled = true;
        self.shared.record(self.generation, true);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.give_back(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when told to.
    struct ManualClock {
        start: Instant,
        elapsed: Mutex<Duration>,
    }

    impl ManualClock {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                start: Instant::now(),
                elapsed: Mutex::new(Duration::ZERO),
            })
        }

        fn advance(&self, by: Duration) {
            *self.elapsed.lock().expect("clock lock") += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.elapsed.lock().expect("clock lock")
        }
    }

    const CLOSED: BreakerState = BreakerState::Closed;
    const OPEN: BreakerState = BreakerState::Open;
    const HALF_OPEN: BreakerState = BreakerState::HalfOpen;

    fn breaker() -> (
        CircuitBreaker,
        Arc<ManualClock>,
        broadcast::Receiver<Transition>,
    ) {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::with_clock(BreakerSettings::default(), clock.clone());
        let transitions = breaker.subscribe();
        (breaker, clock, transitions)
    }

    fn call(breaker: &CircuitBreaker, fails: bool) {
        let permit = breaker
            .try_acquire()
            .expect("the breaker lets the call through");
        if fails {
            permit.failed();
        } else {
            permit.succeeded();
        }
    }

    fn next_transition(transitions: &mut broadcast::Receiver<Transition>) -> Transition {
        transitions.try_recv().expect("a transition was sent")
    }

    fn assert_no_transition(transitions: &mut broadcast::Receiver<Transition>) {
        assert!(
            matches!(
                transitions.try_recv(),
                Err(broadcast::error::TryRecvError::Empty)
            ),
            "no transition expected"
        );
    }

    fn open(breaker: &CircuitBreaker, transitions: &mut broadcast::Receiver<Transition>) {
        for _ in 0..5 {
            call(breaker, true);
        }
        assert_eq!(
            next_transition(transitions),
            Transition {
                from: CLOSED,
                to: OPEN
            }
        );
    }

    #[test]
    fn stays_closed_until_the_minimum_number_of_calls_is_reached() {
        let (breaker, _clock, mut transitions) = breaker();
        for _ in 0..4 {
            call(&breaker, true);
        }
        assert_eq!(breaker.state(), CLOSED);
        assert_no_transition(&mut transitions);

        call(&breaker, true);

        assert_eq!(
            next_transition(&mut transitions),
            Transition {
                from: CLOSED,
                to: OPEN
            }
        );
        assert_eq!(breaker.state(), OPEN);
    }

    #[test]
    fn opens_when_half_of_the_last_ten_calls_failed() {
        let (breaker, _clock, mut transitions) = breaker();
        for _ in 0..6 {
            call(&breaker, false);
        }
        for _ in 0..4 {
            call(&breaker, true);
        }
        assert_eq!(breaker.state(), CLOSED, "4 failures of 10 stay below 50 %");
        assert_no_transition(&mut transitions);

        // The oldest success leaves the window: 5 failures of 10.
        call(&breaker, true);

        assert_eq!(next_transition(&mut transitions).to, OPEN);
    }

    #[test]
    fn only_the_last_ten_calls_count() {
        let (breaker, _clock, mut transitions) = breaker();
        for _ in 0..20 {
            call(&breaker, false);
        }
        for _ in 0..4 {
            call(&breaker, true);
        }
        assert_no_transition(&mut transitions);

        // 5 failures of 25 calls, but of the last 10.
        call(&breaker, true);

        assert_eq!(next_transition(&mut transitions).to, OPEN);
    }

    #[test]
    fn an_open_breaker_refuses_calls_until_its_wait_is_over() {
        let (breaker, clock, mut transitions) = breaker();
        open(&breaker, &mut transitions);

        clock.advance(Duration::from_secs(29));
        let rejected = breaker.try_acquire().err().expect("refused while open");

        assert_eq!(rejected.state, OPEN);
        assert_eq!(rejected.retry_in, Some(Duration::from_secs(1)));
        assert!(breaker.open_until().is_some());
        assert_no_transition(&mut transitions);
    }

    #[test]
    fn after_its_wait_the_next_call_turns_it_half_open() {
        let (breaker, clock, mut transitions) = breaker();
        open(&breaker, &mut transitions);

        clock.advance(Duration::from_secs(30));
        assert_eq!(breaker.open_until(), None);
        let trial = breaker.try_acquire();

        assert!(trial.is_ok());
        assert_eq!(
            next_transition(&mut transitions),
            Transition {
                from: OPEN,
                to: HALF_OPEN
            }
        );
    }

    #[test]
    fn half_open_lets_three_trials_through_and_closes_when_all_succeed() {
        let (breaker, clock, mut transitions) = breaker();
        open(&breaker, &mut transitions);
        clock.advance(Duration::from_secs(30));

        let trials: Vec<Permit> = (0..3)
            .map(|_| breaker.try_acquire().expect("a trial"))
            .collect();
        let fourth = breaker.try_acquire().err().expect("only three trials");
        assert_eq!(
            fourth,
            Rejected {
                state: HALF_OPEN,
                retry_in: None
            }
        );
        assert_eq!(next_transition(&mut transitions).to, HALF_OPEN);
        let mut trials = trials.into_iter();
        trials.next().expect("first trial").succeeded();
        trials.next().expect("second trial").succeeded();
        assert_no_transition(&mut transitions);
        trials.next().expect("third trial").succeeded();

        assert_eq!(
            next_transition(&mut transitions),
            Transition {
                from: HALF_OPEN,
                to: CLOSED
            }
        );
        assert_eq!(breaker.state(), CLOSED);
    }

    #[test]
    fn a_failed_trial_opens_it_again_for_a_full_wait() {
        let (breaker, clock, mut transitions) = breaker();
        open(&breaker, &mut transitions);
        clock.advance(Duration::from_secs(30));
        call(&breaker, false);
        assert_eq!(next_transition(&mut transitions).to, HALF_OPEN);

        call(&breaker, true);

        assert_eq!(
            next_transition(&mut transitions),
            Transition {
                from: HALF_OPEN,
                to: OPEN
            }
        );
        let rejected = breaker.try_acquire().err().expect("open again");
        assert_eq!(rejected.retry_in, Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_closed_breaker_starts_with_an_empty_window() {
        let (breaker, clock, mut transitions) = breaker();
        open(&breaker, &mut transitions);
        clock.advance(Duration::from_secs(30));
        for _ in 0..3 {
            call(&breaker, false);
        }
        assert_eq!(next_transition(&mut transitions).to, HALF_OPEN);
        assert_eq!(next_transition(&mut transitions).to, CLOSED);

        for _ in 0..4 {
            call(&breaker, true);
        }

        assert_eq!(breaker.state(), CLOSED, "four calls are below the minimum");
    }

    #[test]
    fn outcomes_of_calls_permitted_before_a_change_are_ignored() {
        let (breaker, clock, mut transitions) = breaker();
        let slow_call = breaker.try_acquire().expect("closed");
        open(&breaker, &mut transitions);
        clock.advance(Duration::from_secs(30));
        let trial = breaker.try_acquire().expect("a trial");
        assert_eq!(next_transition(&mut transitions).to, HALF_OPEN);

        slow_call.failed();

        assert_eq!(breaker.state(), HALF_OPEN);
        assert_no_transition(&mut transitions);
        trial.succeeded();
    }

    #[test]
    fn a_trial_dropped_unsettled_is_given_back() {
        let (breaker, clock, mut transitions) = breaker();
        open(&breaker, &mut transitions);
        clock.advance(Duration::from_secs(30));
        let trials: Vec<Permit> = (0..3)
            .map(|_| breaker.try_acquire().expect("a trial"))
            .collect();
        assert!(breaker.try_acquire().is_err());

        drop(trials);

        assert!(breaker.try_acquire().is_ok());
        assert_eq!(next_transition(&mut transitions).to, HALF_OPEN);
    }
}
