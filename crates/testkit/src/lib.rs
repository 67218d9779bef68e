//! Helpers for integration tests: a fresh PostgreSQL database and RabbitMQ virtual host per
//! test, a TCP proxy to cut connections, a listener that never answers, and quiet logs.

mod broker;
mod database;
mod silent_listener;
mod tcp_proxy;

pub use broker::TestBroker;
pub use database::TestDatabase;
pub use silent_listener::SilentListener;
pub use tcp_proxy::TcpProxy;

/// Logs stay quiet unless `TEST_LOG` is set; spans get trace context either way, so what a test
/// observes of trace propagation does not depend on it.
pub fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        zayavki_common::telemetry::init(zayavki_common::telemetry::DEFAULT_FILTER);
    } else {
        zayavki_common::telemetry::init_silent();
    }
}

/// Runs `cleanup` to completion on a runtime of its own in another thread: a value dropped at the
/// end of a test is dropped outside the test's runtime, which may be shutting down.
fn block_on_own_runtime(
    cleanup: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
) -> anyhow::Result<()> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(cleanup)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the clean-up thread panicked"))?
}
