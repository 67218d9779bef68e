//! Per-caller rate limiting: one token bucket per authenticated person, per service, or per
//! client address for anonymous calls. Layers charge one unit per call; handlers charge extra
//! for costly requests (a batch of N items costs N).

mod clock;
mod config;
mod key;
mod throttled;

use std::{
    fmt,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use governor::{
    InsufficientCapacity, Quota, RateLimiter, clock::Clock, middleware::NoOpMiddleware,
    nanos::Nanos, state::keyed::DefaultKeyedStateStore,
};

pub use clock::{ManualClock, ThrottleClock};
pub use config::ThrottleConfig;
pub use key::ThrottleKey;
pub use throttled::Throttled;

/// How often stale buckets are dropped, in checks.
const HOUSEKEEPING_EVERY: u64 = 8192;

/// A keyed token bucket limiter. Cheap to clone; all clones share the buckets.
#[derive(Clone)]
pub struct Throttle {
    inner: Option<Arc<Inner>>,
    /// Proxies whose `X-Forwarded-For` is believed.
    trusted_proxies: Arc<[IpAddr]>,
}

struct Inner {
    people: Buckets,
    services: Buckets,
    checks: AtomicU64,
}

/// One limit and the buckets of every caller it applies to.
struct Buckets {
    limiter: RateLimiter<
        ThrottleKey,
        DefaultKeyedStateStore<ThrottleKey>,
        ThrottleClock,
        NoOpMiddleware<Nanos>,
    >,
    burst: u32,
    refill_one: Duration,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => formatter.write_str("Throttle(disabled)"),
            Some(inner) => formatter
                .debug_struct("Throttle")
                .field("people", &inner.people)
                .field("services", &inner.services)
                .finish_non_exhaustive(),
        }
    }
}

impl fmt::Debug for Buckets {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Buckets")
            .field("burst", &self.burst)
            .field("refill_one", &self.refill_one)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> anyhow::Result<Self> {
        if !config.enabled {
            return Ok(Self::disabled());
        }
        let trusted_proxies = config.trusted_proxies.clone().into();
        let people = Buckets::new(
            config.per_second,
            config.burst,
            ("RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST"),
            &config.clock,
        )?;
        let services = Buckets::new(
            config.service_per_second,
            config.service_burst,
            ("SERVICE_RATE_LIMIT_PER_SECOND", "SERVICE_RATE_LIMIT_BURST"),
            &config.clock,
        )?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                people,
                services,
                checks: AtomicU64::new(0),
            })),
            trusted_proxies,
        })
    }

    /// Allows everything.
    pub fn disabled() -> Self {
        Self {
            inner: None,
            trusted_proxies: Arc::from([]),
        }
    }

    /// Whose bucket a request with these extensions and headers is charged to (see
    /// [`ThrottleKey::from_request`]).
    pub fn key(&self, extensions: &http::Extensions, headers: &http::HeaderMap) -> ThrottleKey {
        ThrottleKey::from_request(extensions, headers, &self.trusted_proxies)
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Charges `cost` units to `key`'s bucket, all or nothing. A cost of zero always passes.
    pub fn check(&self, key: &ThrottleKey, cost: u32) -> Result<(), Throttled> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let Some(units) = NonZeroU32::new(cost) else {
            return Ok(());
        };
        inner.housekeeping();
        let buckets = if key.is_service() {
            &inner.services
        } else {
            &inner.people
        };
        buckets.check(key, units)
    }
}

impl Buckets {
    fn new(
        per_second: u32,
        burst: u32,
        (per_second_variable, burst_variable): (&str, &str),
        clock: &ThrottleClock,
    ) -> anyhow::Result<Self> {
        let per_second = NonZeroU32::new(per_second).with_context(|| {
            format!("{per_second_variable} must be at least 1 (or set RATE_LIMIT_ENABLED=false)")
        })?;
        let burst = NonZeroU32::new(burst).with_context(|| {
            format!("{burst_variable} must be at least 1 (or set RATE_LIMIT_ENABLED=false)")
        })?;
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Ok(Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            burst: burst.get(),
            refill_one: quota.replenish_interval(),
        })
    }

    fn check(&self, key: &ThrottleKey, units: NonZeroU32) -> Result<(), Throttled> {
        let refused = |retry_after| Throttled {
            retry_after,
            cost: units.get(),
            burst: self.burst,
        };
        match self.limiter.check_key_n(key, units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(refused(
                not_until.wait_time_from(self.limiter.clock().now()),
            )),
            Err(InsufficientCapacity(_)) => {
                Err(refused(self.refill_one.saturating_mul(self.burst)))
            }
        }
    }

    fn forget_quiet_callers(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

impl Inner {
    /// Buckets of callers gone quiet are indistinguishable from fresh ones; dropping them now and
    /// then keeps memory bounded by the number of recently active callers.
    fn housekeeping(&self) {
        let checks = self.checks.fetch_add(1, Ordering::Relaxed);
        if checks % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1 {
            self.people.forget_quiet_callers();
            self.services.forget_quiet_callers();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_rates_are_refused_with_the_variable_name() {
        let error = Throttle::new(ThrottleConfig {
            per_second: 0,
            ..ThrottleConfig::default()
        })
        .expect_err("zero rate");
        let service_error = Throttle::new(ThrottleConfig {
            service_burst: 0,
            ..ThrottleConfig::default()
        })
        .expect_err("zero service burst");

        assert!(
            error.to_string().contains("RATE_LIMIT_PER_SECOND"),
            "{error}"
        );
        assert!(
            service_error
                .to_string()
                .contains("SERVICE_RATE_LIMIT_BURST"),
            "{service_error}"
        );
    }
}
