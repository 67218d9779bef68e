//! Helpers for integration tests: a fresh PostgreSQL database and RabbitMQ virtual host per
//! test, a TCP proxy to cut connections, and quiet logs.

mod broker;
mod database;
mod tcp_proxy;

pub use broker::TestBroker;
pub use database::TestDatabase;
pub use tcp_proxy::TcpProxy;

/// Logs stay quiet unless `TEST_LOG` is set.
pub fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        zayavki_common::telemetry::init(zayavki_common::telemetry::DEFAULT_FILTER);
    }
}
