//! Helpers for integration tests: a fresh PostgreSQL database per test and quiet logs.

mod database;

pub use database::TestDatabase;

/// Logs stay quiet unless `TEST_LOG` is set.
pub fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        zayavki_common::telemetry::init("info,sqlx=warn");
    }
}
