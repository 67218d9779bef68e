use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use business_process::notifier::{DEFAULT_SINK_ADDRESS, NotificationSink};
use clap::Parser;
use zayavki::{
    cli::{Cli, Command},
    web_server::{self, WebServer},
};
use zayavki_common::{config::env_parse, shutdown, telemetry};
use zayavki_identity::{IdentityConfig, TokenMinter};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Start { replicas } => {
            telemetry::init(telemetry::DEFAULT_FILTER);
            zayavki::start::run(replicas).await
        }
        Command::Gateway => {
            telemetry::init(telemetry::DEFAULT_FILTER);
            zayavki::gateway::standalone::run().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::WebServer => {
            telemetry::init(telemetry::DEFAULT_FILTER);
            let address = env_parse("WEB_ADDR", web_server::DEFAULT_ADDRESS)?;
            let dir = env_parse("WEB_DIR", PathBuf::from(web_server::DEFAULT_DIR))?;
            WebServer::bind(address, dir)
                .await?
                .run_until_stopped(shutdown::token_cancelled_on_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => Ok(zayavki::status::run()),
        Command::NotificationSink => {
            telemetry::init(telemetry::DEFAULT_FILTER);
            let address = env_parse("NOTIFICATION_SINK_ADDR", DEFAULT_SINK_ADDRESS)?;
            NotificationSink::bind(address)
                .await?
                .run_until_stopped(shutdown::token_cancelled_on_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex => {
            telemetry::init(telemetry::DEFAULT_FILTER);
            let settings = application_service::config::Settings::from_env()?;
            let pool = zayavki_common::database::lazy_pool(&settings.database)?;
            let documents =
                application_service::indexing::reindex(&pool, &settings.search_index_dir).await?;
            println!(
                "search index rebuilt: {documents} applications at {}",
                settings.search_index_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            sub,
            roles,
            name,
            ttl_hours,
        } => {
            let identity = IdentityConfig::from_env()?;
            let minter = TokenMinter::new(&identity)
                .context("minting needs JWT_SECRET or JWT_PRIVATE_KEY_FILE")?;
            let token = minter.mint(
                &sub,
                name.as_deref(),
                &roles,
                Command::token_lifetime(ttl_hours),
            )?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
