//! How much each caller may spend: one limit for people (and anonymous addresses), a higher one
//! for other services, whose traffic carries many people's work.

use std::net::IpAddr;

use anyhow::Context;
use zayavki_common::config::{Variables, env_flag, env_optional, env_parse};

use super::ThrottleClock;

/// Units refilled per second for each person or address.
const DEFAULT_PER_SECOND: u32 = 100;
/// Bucket size for each person or address. The largest batch the APIs accept (1,000
/// applications, one unit each) fits a full bucket.
const DEFAULT_BURST: u32 = 1000;
/// Units refilled per second for each caller with the `service` role.
const DEFAULT_SERVICE_PER_SECOND: u32 = 2000;
/// Bucket size for each caller with the `service` role.
const DEFAULT_SERVICE_BURST: u32 = 4000;

/// Bucket sizes and refill rates.
#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Units refilled per second for each person or address (`RATE_LIMIT_PER_SECOND`, default
    /// 100).
    pub per_second: u32,
    /// Bucket size for each person or address: the most spent at once (`RATE_LIMIT_BURST`,
    /// default 1000).
    pub burst: u32,
    /// Units refilled per second for each caller with the `service` role
    /// (`SERVICE_RATE_LIMIT_PER_SECOND`, default 2000).
    pub service_per_second: u32,
    /// Bucket size for each caller with the `service` role (`SERVICE_RATE_LIMIT_BURST`, default
    /// 4000).
    pub service_burst: u32,
    /// `RATE_LIMIT_ENABLED`, default true; covers both limits.
    pub enabled: bool,
    /// `TRUSTED_PROXIES`: comma-separated addresses of the proxies (the gateway) whose
    /// `X-Forwarded-For` names an anonymous caller; none by default.
    pub trusted_proxies: Vec<IpAddr>,
    /// Where the buckets read the time: the system clock, or a manual one in tests.
    pub clock: ThrottleClock,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_second: DEFAULT_PER_SECOND,
            burst: DEFAULT_BURST,
            service_per_second: DEFAULT_SERVICE_PER_SECOND,
            service_burst: DEFAULT_SERVICE_BURST,
            enabled: true,
            trusted_proxies: Vec::new(),
            clock: ThrottleClock::System,
        }
    }
}

impl ThrottleConfig {
    /// What [`ThrottleConfig::from_env`] reads, each with a default.
    pub const VARIABLES: &[&str] = &[
        "RATE_LIMIT_PER_SECOND",
        "RATE_LIMIT_BURST",
        "SERVICE_RATE_LIMIT_PER_SECOND",
        "SERVICE_RATE_LIMIT_BURST",
        "RATE_LIMIT_ENABLED",
        "TRUSTED_PROXIES",
    ];

    pub fn variables() -> Variables {
        Variables::optional(Self::VARIABLES)
    }

    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            per_second: env_parse("RATE_LIMIT_PER_SECOND", defaults.per_second)?,
            burst: env_parse("RATE_LIMIT_BURST", defaults.burst)?,
            service_per_second: env_parse(
                "SERVICE_RATE_LIMIT_PER_SECOND",
                defaults.service_per_second,
            )?,
            service_burst: env_parse("SERVICE_RATE_LIMIT_BURST", defaults.service_burst)?,
            enabled: env_flag("RATE_LIMIT_ENABLED", defaults.enabled)?,
            trusted_proxies: trusted_proxies(env_optional("TRUSTED_PROXIES").as_deref())?,
            clock: defaults.clock,
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

fn trusted_proxies(raw: Option<&str>) -> anyhow::Result<Vec<IpAddr>> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse()
                .with_context(|| format!("TRUSTED_PROXIES: {part:?} is not an IP address"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use zayavki_common::config::read_recorded;

    use super::*;

    #[test]
    fn from_env_reads_exactly_the_declared_variables() {
        let (config, asked) = read_recorded(
            &[
                ("RATE_LIMIT_BURST", "5"),
                ("RATE_LIMIT_ENABLED", "off"),
                ("TRUSTED_PROXIES", "127.0.0.1, ::1"),
            ],
            ThrottleConfig::from_env,
        );

        let config = config.expect("valid settings");
        assert_eq!(config.burst, 5);
        assert!(!config.enabled);
        assert_eq!(
            config.trusted_proxies,
            [
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1])
            ]
        );
        assert_eq!(
            asked,
            ThrottleConfig::variables()
                .names()
                .map(str::to_owned)
                .collect()
        );
    }

    #[test]
    fn a_proxy_that_is_no_address_is_refused_by_name() {
        let error = trusted_proxies(Some("127.0.0.1,gateway")).expect_err("not an address");
        assert!(error.to_string().contains("\"gateway\""), "{error}");
        assert!(trusted_proxies(None).expect("none").is_empty());
    }
}
