//! Where a throttle reads the time. Buckets refill as time passes, so a test that waits for a
//! refill moves a manual clock forward instead of sleeping and hoping the machine kept up.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use governor::{
    clock::{Clock, FakeRelativeClock},
    nanos::Nanos,
};

/// The time source of a [`crate::Throttle`], chosen when it is built.
#[derive(Clone, Debug, Default)]
pub enum ThrottleClock {
    /// The system's monotonic clock.
    #[default]
    System,
    /// Time that moves only when its [`ManualClock::advance`] is called.
    Manual(ManualClock),
}

/// A clock that stands still until told to move. Clones share one time, so a test keeps a clone
/// and advances the clock of a throttle it handed the other one to.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(FakeRelativeClock);

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
}

impl From<ManualClock> for ThrottleClock {
    fn from(clock: ManualClock) -> Self {
        Self::Manual(clock)
    }
}

impl Clock for ThrottleClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        match self {
            Self::System => Nanos::from(system_origin().elapsed()),
            Self::Manual(ManualClock(clock)) => clock.now(),
        }
    }
}

/// Governor counts time from a reference point of the clock; any fixed instant of this process
/// will do, and one shared by every throttle keeps the arithmetic in small numbers.
fn system_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let manual = ManualClock::new();
        let clock = ThrottleClock::from(manual.clone());
        let before = clock.now();

        manual.advance(Duration::from_millis(250));

        assert_eq!(
            Duration::from(clock.now()) - Duration::from(before),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn the_system_clock_never_goes_back() {
        let clock = ThrottleClock::System;
        let first = clock.now();

        assert!(clock.now() >= first);
    }
}
