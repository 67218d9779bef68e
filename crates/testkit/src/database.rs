//! A throw-away PostgreSQL database per test, so tests run in parallel without sharing rows.

use std::str::FromStr;

use anyhow::Context;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, postgres::PgConnectOptions};

/// Server the test databases live on; `TEST_DATABASE_URL` overrides this machine's default.
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database named `zayavki_test_<random>`, dropped when this value is dropped.
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Names a fresh database; the service under test creates it (as it does in production).
    pub fn fresh() -> Self {
        let name = format!("zayavki_test_{}", uuid::Uuid::new_v4().simple());
        let options = PgConnectOptions::from_str(&server_url())
            .expect("TEST_DATABASE_URL is a valid PostgreSQL URL")
            .database(&name);
        let url = options.to_url_lossy().to_string();
        Self { name, url }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn drop_database(name: String) -> anyhow::Result<()> {
        let mut connection = PgConnection::connect(&server_url())
            .await
            .context("cannot reach PostgreSQL to drop a test database")?;
        connection
            .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
            .await?;
        Ok(())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(error) = crate::block_on_own_runtime(Self::drop_database(self.name.clone())) {
            eprintln!("could not drop test database {}: {error:#}", self.name);
        }
    }
}
