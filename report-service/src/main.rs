//! Runs report-service alone, configured from the environment.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use report_service::{config::Settings, startup::Application};
use zayavki_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_service("report-service", telemetry::DEFAULT_FILTER);
    let outcome = run().await;
    telemetry::shutdown().await;
    outcome
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let application = Application::build(settings).await?;
    application
        .run_until_stopped(shutdown::token_cancelled_on_signal())
        .await
}
