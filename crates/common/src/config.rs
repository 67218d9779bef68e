//! Reading typed settings from environment variables, with defaults that work on a developer
//! machine and a clear message naming the variable when a value does not parse.

use std::{fmt::Display, str::FromStr};

use anyhow::Context;

/// Reads `name`, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => default.to_owned(),
    }
}

/// Reads `name` when it is set and not empty.
pub fn env_optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Parses `name`, or returns `default` when it is unset or empty.
pub fn env_parse<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    match env_optional(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .map_err(|error| anyhow::anyhow!("{error}"))
            .with_context(|| format!("environment variable {name}={raw:?} is not valid")),
    }
}

/// Parses a boolean flag (`1/0`, `true/false`, `yes/no`, `on/off`).
pub fn env_flag(name: &str, default: bool) -> anyhow::Result<bool> {
    match env_optional(name).map(|raw| raw.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(raw) => match raw.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => anyhow::bail!("environment variable {name}={raw:?} is not a boolean"),
        },
    }
}

/// Splits a comma-separated list, dropping blanks.
pub fn env_list(name: &str) -> Vec<String> {
    env_optional(name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
