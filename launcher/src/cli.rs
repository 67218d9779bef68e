//! Command-line interface.

use std::time::Duration;

use clap::{Parser, Subcommand};
use zayavki_identity::Role;

#[derive(Debug, Parser)]
#[command(
    name = "zayavki",
    version,
    about = "Applications (заявки): run the services, mint tokens"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every service, each as its own supervised process, behind the gateway
    /// (configuration from the environment; see README).
    Start {
        /// Replicas of application-service, business-process and report-service, balanced by
        /// the gateway (default ZAYAVKI_REPLICAS, else 1).
        #[arg(long)]
        replicas: Option<usize>,
    },
    /// Show the running start command's addresses and each service's process.
    Status,
    /// Run the development notification sink (NOTIFICATION_SINK_ADDR); `start` runs it when
    /// NOTIFIER_URL is unset.
    NotificationSink,
    /// Run HAProxy as the gateway, its replicas from the environment (GATEWAY_APPLICATION_HTTP
    /// and the like, as compose.yaml sets them); `start` configures it by itself.
    Gateway,
    /// Serve the web app's built files under /app/ (WEB_ADDR, WEB_DIR); `start` runs it.
    WebServer,
    /// Rebuild the search index from PostgreSQL (stop the services first: one writer per index).
    Reindex,
    /// Mint a bearer token with the configured key (JWT_SECRET or JWT_PRIVATE_KEY_FILE).
    Token {
        /// The user (token subject).
        #[arg(long)]
        sub: String,
        /// Comma-separated roles: applicant, operator, service.
        #[arg(long, value_delimiter = ',', value_parser = parse_role, default_value = "applicant")]
        roles: Vec<Role>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        ttl_hours: u64,
    },
}

impl Command {
    pub fn token_lifetime(hours: u64) -> Duration {
        Duration::from_secs(hours.saturating_mul(3600))
    }
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.trim()
        .parse::<Role>()
        .map_err(|_| format!("{raw:?} is not a role; use applicant, operator or service"))
}
