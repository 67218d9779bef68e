//! Runs application-service alone, configured from the environment.
//!
//! `application-service` serves; `application-service reindex` rebuilds the search index from
//! PostgreSQL (run it while the service is stopped: the index directory has one writer).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use application_service::{config::Settings, indexing, startup::Application};
use zayavki_common::{database::lazy_pool, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_service("application-service", telemetry::DEFAULT_FILTER);
    let outcome = run().await;
    telemetry::shutdown().await;
    outcome
}

async fn run() -> anyhow::Result<()> {
    let mut settings = Settings::from_env()?;
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            settings.identity = settings.identity.clone().or_development_key()?.0;
            let application = Application::build(settings).await?;
            application
                .run_until_stopped(shutdown::token_cancelled_on_signal())
                .await
        }
        Some("reindex") => {
            let pool = lazy_pool(&settings.database)?;
            let documents = indexing::reindex(&pool, &settings.search_index_dir)
                .await
                .context("cannot rebuild the search index")?;
            println!(
                "search index rebuilt: {documents} applications at {}",
                settings.search_index_dir.display()
            );
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command {other:?}; use `serve` (default) or `reindex`")
        }
    }
}
