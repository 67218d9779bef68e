//! Runs application-service alone, configured from the environment.

use application_service::{config::Settings, startup::Application};
use zayavki_common::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("info,sqlx=warn");
    let settings = Settings::from_env()?;
    let application = Application::build(settings).await?;
    application
        .run_until_stopped(shutdown::token_cancelled_on_signal())
        .await
}
