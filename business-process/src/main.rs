//! Runs business-process alone, configured from the environment.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use business_process::{config::Settings, startup::Application};
use zayavki_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_service("business-process", telemetry::DEFAULT_FILTER);
    let outcome = serve().await;
    telemetry::shutdown().await;
    outcome
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let application = Application::build(settings).await?;
    application
        .run_until_stopped(shutdown::token_cancelled_on_signal())
        .await
}
