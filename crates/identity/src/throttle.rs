//! Per-caller rate limiting: one token bucket per authenticated subject, or per client address
//! for anonymous calls. Layers charge one unit per call; handlers charge extra for costly
//! requests (a batch of N items costs N).

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use axum::{
    extract::ConnectInfo,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, InsufficientCapacity, Quota, clock::Clock};
use http::{Extensions, HeaderValue, header::RETRY_AFTER};
use tonic::{metadata::MetadataMap, transport::server::TcpConnectInfo};
use zayavki_common::{
    ErrorCode,
    config::{env_flag, env_parse},
    problem::Problem,
};

use crate::Identity;

/// How often stale buckets are dropped, in checks.
const HOUSEKEEPING_EVERY: u64 = 8192;

/// Bucket size and refill rate, the same for every caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Units refilled per second (`RATE_LIMIT_PER_SECOND`, default 100).
    pub per_second: u32,
    /// Bucket size: the most a caller can spend at once (`RATE_LIMIT_BURST`, default 200).
    pub burst: u32,
    /// `RATE_LIMIT_ENABLED`, default true.
    pub enabled: bool,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_second: 100,
            burst: 200,
            enabled: true,
        }
    }
}

impl ThrottleConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            per_second: env_parse("RATE_LIMIT_PER_SECOND", defaults.per_second)?,
            burst: env_parse("RATE_LIMIT_BURST", defaults.burst)?,
            enabled: env_flag("RATE_LIMIT_ENABLED", defaults.enabled)?,
        })
    }

    /// No limit at all.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// Whose bucket a request is charged to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// An authenticated caller, whatever address it calls from.
    Subject(String),
    /// An anonymous caller.
    Address(IpAddr),
    /// Neither an identity nor a peer address is known; these share one bucket.
    Unidentified,
}

impl ThrottleKey {
    pub fn for_identity(identity: &Identity) -> Self {
        Self::Subject(identity.subject.clone())
    }

    /// The identity attached by an auth layer, else the peer address that tonic
    /// (`TcpConnectInfo`) or axum (`ConnectInfo<SocketAddr>`) recorded.
    pub fn from_extensions(extensions: &Extensions) -> Self {
        if let Some(identity) = extensions.get::<Identity>() {
            return Self::for_identity(identity);
        }
        let address = extensions
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| {
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(address)| *address)
            });
        address.map_or(Self::Unidentified, |address| Self::Address(address.ip()))
    }
}

impl fmt::Display for ThrottleKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subject(subject) => write!(formatter, "subject {subject}"),
            Self::Address(address) => write!(formatter, "address {address}"),
            Self::Unidentified => formatter.write_str("unidentified caller"),
        }
    }
}

/// A refused request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// How long until the request would be allowed. When [`Self::exceeds_burst`], the time to
    /// refill a whole bucket, although the same request will never fit.
    pub retry_after: Duration,
    /// What the request would have cost.
    pub cost: u32,
    /// The bucket size.
    pub burst: u32,
}

impl Throttled {
    /// The request costs more than a full bucket: it must be split, waiting does not help.
    pub fn exceeds_burst(&self) -> bool {
        self.cost > self.burst
    }

    /// Whole seconds for `Retry-After`, at least 1.
    pub fn retry_after_seconds(&self) -> u64 {
        let seconds = self.retry_after.as_secs();
        let rounded_up = if self.retry_after.subsec_nanos() > 0 {
            seconds + 1
        } else {
            seconds
        };
        rounded_up.max(1)
    }

    pub fn code(&self) -> ErrorCode {
        ErrorCode::ResourceExhausted
    }

    /// `RESOURCE_EXHAUSTED` with a `retry-after` metadata entry in seconds.
    pub fn to_status(&self) -> tonic::Status {
        let mut metadata = MetadataMap::new();
        metadata.insert("retry-after", self.retry_after_seconds().into());
        tonic::Status::with_metadata(self.code().grpc_code(), self.to_string(), metadata)
    }

    /// 429 problem+json with a `Retry-After` header in seconds.
    pub fn to_problem(&self) -> Problem {
        Problem::new(self.code(), self.to_string())
            .with_header(RETRY_AFTER, HeaderValue::from(self.retry_after_seconds()))
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exceeds_burst() {
            write!(
                formatter,
                "this request costs {} units but at most {} can be spent at once; split it into smaller requests",
                self.cost, self.burst
            )
        } else {
            write!(
                formatter,
                "too many requests; retry in {} s",
                self.retry_after_seconds()
            )
        }
    }
}

impl std::error::Error for Throttled {}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}

impl From<Throttled> for tonic::Status {
    fn from(throttled: Throttled) -> Self {
        throttled.to_status()
    }
}

/// A keyed token bucket limiter. Cheap to clone; all clones share the buckets.
#[derive(Clone)]
pub struct Throttle {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    limiter: DefaultKeyedRateLimiter<ThrottleKey>,
    burst: u32,
    refill_one: Duration,
    checks: AtomicU64,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => formatter.write_str("Throttle(disabled)"),
            Some(inner) => formatter
                .debug_struct("Throttle")
                .field("burst", &inner.burst)
                .field("refill_one", &inner.refill_one)
                .finish_non_exhaustive(),
        }
    }
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> anyhow::Result<Self> {
        if !config.enabled {
            return Ok(Self::disabled());
        }
        let per_second = NonZeroU32::new(config.per_second).context(
            "RATE_LIMIT_PER_SECOND must be at least 1 (or set RATE_LIMIT_ENABLED=false)",
        )?;
        let burst = NonZeroU32::new(config.burst)
            .context("RATE_LIMIT_BURST must be at least 1 (or set RATE_LIMIT_ENABLED=false)")?;
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Ok(Self {
            inner: Some(Arc::new(Inner {
                limiter: DefaultKeyedRateLimiter::keyed(quota),
                burst: burst.get(),
                refill_one: quota.replenish_interval(),
                checks: AtomicU64::new(0),
            })),
        })
    }

    /// Allows everything.
    pub fn disabled() -> Self {
        Self { inner: None }
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
        match inner.limiter.check_key_n(key, units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Throttled {
                retry_after: not_until.wait_time_from(inner.limiter.clock().now()),
                cost,
                burst: inner.burst,
            }),
            Err(InsufficientCapacity(_)) => Err(Throttled {
                retry_after: inner.refill_one.saturating_mul(inner.burst),
                cost,
                burst: inner.burst,
            }),
        }
    }
}

impl Inner {
    /// Buckets of callers gone quiet are indistinguishable from fresh ones; dropping them now and
    /// then keeps memory bounded by the number of recently active callers.
    fn housekeeping(&self) {
        let checks = self.checks.fetch_add(1, Ordering::Relaxed);
        if checks % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        let throttled = |retry_after| Throttled {
            retry_after,
            cost: 1,
            burst: 1,
        };

        assert_eq!(
            throttled(Duration::from_millis(10)).retry_after_seconds(),
            1
        );
        assert_eq!(throttled(Duration::ZERO).retry_after_seconds(), 1);
        assert_eq!(
            throttled(Duration::from_millis(2001)).retry_after_seconds(),
            3
        );
        assert_eq!(throttled(Duration::from_secs(2)).retry_after_seconds(), 2);
    }

    #[test]
    fn zero_rates_are_refused_with_the_variable_name() {
        let error = Throttle::new(ThrottleConfig {
            per_second: 0,
            burst: 1,
            enabled: true,
        })
        .expect_err("zero rate");

        assert!(
            error.to_string().contains("RATE_LIMIT_PER_SECOND"),
            "{error}"
        );
    }

    #[test]
    fn the_key_prefers_the_identity_over_the_address() {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 4000))));
        assert_eq!(
            ThrottleKey::from_extensions(&extensions),
            ThrottleKey::Address([10, 0, 0, 7].into())
        );

        extensions.insert(Identity::new("user-1"));
        assert_eq!(
            ThrottleKey::from_extensions(&extensions),
            ThrottleKey::Subject("user-1".to_owned())
        );
    }
}
