//! Runs report-service alone, configured from the environment.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use report_service::{config::Settings, startup::Application};
use zayavki_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(telemetry::DEFAULT_FILTER);
    let settings = Settings::from_env()?;
    let application = Application::build(settings).await?;
    application
        .run_until_stopped(shutdown::token_cancelled_on_signal())
        .await
}
