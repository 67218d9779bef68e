//! PostgreSQL connection helpers: create the service's database when it is missing, then open a
//! pool to it.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    Connection, Executor, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The default connection string for this machine's PostgreSQL.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/zayavki";

/// How to reach one service's database.
#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    /// Full connection string, database name included. Kept secret because it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl DatabaseSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }

    pub fn connect_options(&self) -> anyhow::Result<PgConnectOptions> {
        PgConnectOptions::from_str(self.url.expose_secret())
            .context("DATABASE_URL is not a valid PostgreSQL connection string")
    }

    /// Name of the database the URL points at.
    pub fn database_name(&self) -> anyhow::Result<String> {
        self.connect_options()?
            .get_database()
            .map(str::to_owned)
            .context("DATABASE_URL names no database")
    }
}

/// Creates the database named in `settings` if it does not exist yet.
#[tracing::instrument(skip_all)]
pub async fn ensure_database_exists(settings: &DatabaseSettings) -> anyhow::Result<()> {
    let name = settings.database_name()?;
    let maintenance = settings.connect_options()?.database("postgres");
    let mut connection = PgConnection::connect_with(&maintenance)
        .await
        .context("cannot reach PostgreSQL to check that the database exists")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut connection)
            .await?;
    if !exists {
        let statement = format!(r#"CREATE DATABASE "{}""#, name.replace('"', "\"\""));
        match connection.execute(statement.as_str()).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another replica created it at the same moment: PostgreSQL says so as
            // duplicate_database, or, when both passed its own check, as a unique violation in
            // its catalogue.
            Err(sqlx::Error::Database(error))
                if matches!(error.code().as_deref(), Some("42P04" | "23505")) => {}
            Err(error) => return Err(error).context("cannot create the database"),
        }
    }
    connection.close().await.ok();
    Ok(())
}

/// Opens a pool lazily: the service starts even when PostgreSQL is briefly away, and health
/// reports NOT_SERVING until it answers.
pub fn lazy_pool(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        // No ping before handing out a connection: it would add a round trip to every
        // statement. A connection that broke while idle fails its next statement, which is
        // answered as "unavailable", and the pool replaces it.
        .test_before_acquire(false)
        .connect_lazy_with(settings.connect_options()?))
}

/// What every service does first: creates its database if missing, opens a lazy pool and
/// applies its migrations.
pub async fn prepare(
    settings: &DatabaseSettings,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<PgPool> {
    ensure_database_exists(settings).await?;
    let pool = lazy_pool(settings)?;
    migrator
        .run(&pool)
        .await
        .context("cannot apply database migrations")?;
    Ok(pool)
}

/// True when the database answers a trivial query.
pub async fn is_reachable(pool: &PgPool) -> bool {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .is_ok()
}

/// True when `error` (anywhere in its chain) says the database could not be reached: the pool
/// timed out or is closed, or the connection failed. Callers answer such errors as "unavailable,
/// retry later" and anything else as an internal error.
pub fn is_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_))
        )
    })
}
