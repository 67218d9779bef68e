//! Structured logs through tracing. `RUST_LOG` picks the filter; `LOG_FORMAT=json` switches to
//! one JSON object per line for log collectors.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// The filter when `RUST_LOG` is unset: our own lines at info, while sqlx and tantivy (seven
/// lines at every index commit) speak only when something is wrong.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,tantivy=warn";

/// Installs the global subscriber once; later calls are ignored so tests can call it freely.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(fmt::layer().json().with_current_span(false))
            .try_init()
    } else {
        registry.with(fmt::layer().compact()).try_init()
    };
    drop(result);
}
