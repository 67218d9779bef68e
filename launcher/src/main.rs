use anyhow::Context;
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use zayavki::{
    cli::{Cli, Command},
    quickstart::Quickstart,
    system::{System, SystemSettings},
};
use zayavki_common::{shutdown, telemetry};
use zayavki_identity::{IdentityConfig, TokenMinter};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Start => start().await,
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
            Ok(())
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
            Ok(())
        }
    }
}

async fn start() -> anyhow::Result<()> {
    telemetry::init(telemetry::DEFAULT_FILTER);
    let mut application = application_service::config::Settings::from_env()?;
    let process = business_process::config::Settings::from_env()?;
    let (identity, generated_key) = application.identity.clone().or_development_key()?;
    application.identity = identity;
    let minter = generated_key
        .is_some()
        .then(|| TokenMinter::new(&application.identity))
        .transpose()?;
    let system = System::build(SystemSettings {
        application,
        process,
    })
    .await?;
    let addresses = system.addresses();
    println!("\n{}", addresses.render());
    if let Some(minter) = minter {
        let quickstart = Quickstart::new(&minter, &addresses)?;
        println!("{}", quickstart.render());
    }
    system
        .run_until_stopped(shutdown::token_cancelled_on_signal())
        .await
}
