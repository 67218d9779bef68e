//! Reading typed settings from environment variables, with defaults that work on a developer
//! machine and a clear message naming the variable when a value does not parse.
//!
//! Every read goes through one lookup, so [`read_recorded`] can run a service's `from_env` against
//! a given environment and list what it asked for: each service declares the [`Variables`] its
//! binary reads, and a test holds that declaration to the code (deployment files are checked
//! against the declarations).

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    fmt::Display,
    str::FromStr,
};

use anyhow::Context;

/// Reads `name`, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    env_optional(name).unwrap_or_else(|| default.to_owned())
}

/// Reads `name` when it is set and not empty.
pub fn env_optional(name: &str) -> Option<String> {
    lookup(name).filter(|value| !value.trim().is_empty())
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

/// The environment [`read_recorded`] stands in for this thread's process environment, and the
/// names asked for meanwhile.
struct RecordedEnvironment {
    values: BTreeMap<String, String>,
    asked: BTreeSet<String>,
}

thread_local! {
    static RECORDED: RefCell<Option<RecordedEnvironment>> = const { RefCell::new(None) };
}

fn lookup(name: &str) -> Option<String> {
    let recorded = RECORDED.with_borrow_mut(|recorded| {
        recorded.as_mut().map(|recorded| {
            recorded.asked.insert(name.to_owned());
            recorded.values.get(name).cloned()
        })
    });
    match recorded {
        Some(value) => value,
        None => std::env::var(name).ok(),
    }
}

/// Runs `read` on this thread with `values` as the whole environment seen by the `env_*`
/// functions (the process environment is neither read nor changed), and answers what `read`
/// returned with every variable name it asked for, set or not.
pub fn read_recorded<T>(
    values: &[(&str, &str)],
    read: impl FnOnce() -> T,
) -> (T, BTreeSet<String>) {
    /// Puts back the previous recording even when `read` panics.
    struct Restore(Option<RecordedEnvironment>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            RECORDED.with_borrow_mut(|recorded| *recorded = previous);
        }
    }

    let environment = RecordedEnvironment {
        values: values
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        asked: BTreeSet::new(),
    };
    let restore = Restore(RECORDED.with_borrow_mut(|recorded| recorded.replace(environment)));
    let output = read();
    let asked = RECORDED
        .with_borrow_mut(Option::take)
        .map(|recorded| recorded.asked)
        .unwrap_or_default();
    drop(restore);
    (output, asked)
}

/// The environment variables a binary reads, and those it cannot do without: what deployment
/// files (`compose.yaml`) are checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables {
    read: BTreeSet<&'static str>,
    required: Vec<&'static [&'static str]>,
}

impl Variables {
    /// Variables read, each with a default (or meaning nothing when unset).
    pub fn optional(names: &[&'static str]) -> Self {
        Self {
            read: names.iter().copied().collect(),
            required: Vec::new(),
        }
    }

    /// Every variable and requirement of `self` and of `other`.
    pub fn and(mut self, other: Self) -> Self {
        self.read.extend(other.read);
        for alternatives in other.required {
            if !self.required.contains(&alternatives) {
                self.required.push(alternatives);
            }
        }
        self
    }

    /// Adds a requirement: at least one of `alternatives` must be set (a single name is a
    /// variable required outright). Each of them is read.
    pub fn requiring_one_of(mut self, alternatives: &'static [&'static str]) -> Self {
        self.read.extend(alternatives.iter().copied());
        if !self.required.contains(&alternatives) {
            self.required.push(alternatives);
        }
        self
    }

    /// Every variable read, in name order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.read.iter().copied()
    }

    pub fn reads(&self, name: &str) -> bool {
        self.read.contains(name)
    }

    /// The requirements an environment in which `is_set` names the set variables leaves unmet,
    /// each as its alternatives.
    pub fn unmet(&self, is_set: impl Fn(&str) -> bool) -> Vec<&'static [&'static str]> {
        self.required
            .iter()
            .copied()
            .filter(|alternatives| !alternatives.iter().any(|name| is_set(name)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_read_sees_only_the_given_values_and_lists_every_name_asked_for() {
        let ((url, port, missing), asked) = read_recorded(
            &[
                ("RECORDED_URL", "http://example.test"),
                ("RECORDED_PORT", "8"),
            ],
            || {
                (
                    env_or("RECORDED_URL", "default"),
                    env_parse("RECORDED_PORT", 1_u16),
                    env_optional("PATH"),
                )
            },
        );

        assert_eq!(url, "http://example.test");
        assert_eq!(port.expect("a port"), 8);
        assert_eq!(missing, None, "the process environment is not read");
        assert_eq!(
            asked,
            ["PATH", "RECORDED_PORT", "RECORDED_URL"]
                .map(str::to_owned)
                .into()
        );
    }

    #[test]
    fn reads_outside_a_recording_see_the_process_environment_again() {
        let (_, asked) = read_recorded(&[], || {
            let ((), inner) = read_recorded(&[], || drop(env_optional("INNER")));
            assert_eq!(inner.len(), 1);
            env_optional("OUTER")
        });

        assert_eq!(asked, ["OUTER".to_owned()].into());
        assert!(env_optional("PATH").is_some());
    }

    #[test]
    fn requirements_are_met_by_any_one_of_their_alternatives() {
        let variables = Variables::optional(&["PORT"])
            .requiring_one_of(&["SECRET", "KEY_FILE"])
            .and(Variables::optional(&["URL"]).requiring_one_of(&["URL"]));

        assert_eq!(
            variables.names().collect::<Vec<_>>(),
            ["KEY_FILE", "PORT", "SECRET", "URL"]
        );
        assert!(
            variables
                .unmet(|name| ["KEY_FILE", "URL"].contains(&name))
                .is_empty()
        );
        assert_eq!(
            variables.unmet(|name| name == "PORT"),
            [&["SECRET", "KEY_FILE"][..], &["URL"][..]]
        );
    }
}
