//! application-service on a database and search index that a benchmark fills before the service
//! starts: rows loaded first never compete with the service's background catch-up, and the
//! service then serves exactly what was prepared.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use application_service::{config::Settings, startup::Application, storage::MIGRATOR};
use sqlx::PgPool;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use zayavki_common::{database::ensure_database_exists, shutdown::CancellationToken};
use zayavki_identity::{IdentityConfig, Role, ThrottleConfig, TokenMinter};
use zayavki_testkit::TestDatabase;

use crate::service::{Bearer, connect_channels};

/// Longer than any run, so no token expires halfway.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// A fresh database and an empty index directory, with the settings that start the service on
/// them. Dropping it drops the database and deletes the directory.
pub struct Prepared {
    /// Throttling off, the development key, the index in [`Prepared::index_dir`].
    pub settings: Settings,
    pub index_dir: PathBuf,
    database: TestDatabase,
    _index_root: TempDir,
}

impl Prepared {
    /// Creates the database as the service does when it starts; the index directory goes in a
    /// temporary folder named after `index_prefix`.
    pub async fn create(index_prefix: &str) -> anyhow::Result<Self> {
        let database = TestDatabase::fresh();
        let index_root = tempfile::Builder::new().prefix(index_prefix).tempdir()?;
        let index_dir = index_root.path().join("index");
        let mut settings = Settings::for_database(database.url());
        settings.identity = IdentityConfig::development().0;
        settings.throttle = ThrottleConfig::disabled();
        settings.search_index_dir = index_dir.clone();
        ensure_database_exists(&settings.database).await?;
        Ok(Self {
            settings,
            index_dir,
            database,
            _index_root: index_root,
        })
    }

    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// Applies the service's migrations through `pool`, so rows can go in before it starts.
    pub async fn migrate(&self, pool: &PgPool) -> anyhow::Result<()> {
        MIGRATOR.run(pool).await.context("cannot apply migrations")
    }

    /// Starts application-service on the prepared database and index.
    pub async fn start(&self) -> anyhow::Result<PreparedService> {
        let minter =
            TokenMinter::new(&self.settings.identity).context("cannot mint bench tokens")?;
        let application = Application::build(self.settings.clone())
            .await
            .context("application-service does not start")?;
        let grpc_address = application.grpc_address();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(application.run_until_stopped(shutdown.clone()));
        Ok(PreparedService {
            grpc_address,
            minter,
            shutdown,
            server,
        })
    }
}

/// application-service on loopback ports, serving a [`Prepared`] database and index.
pub struct PreparedService {
    pub grpc_address: SocketAddr,
    minter: TokenMinter,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
}

impl PreparedService {
    /// One HTTP/2 connection to the gRPC port.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        connect_channels(self.grpc_address, 1)
            .await?
            .pop()
            .context("one channel was asked for")
    }

    /// An interceptor that sends a token of `subject` with `role` on every call.
    pub fn bearer(&self, subject: &str, role: Role) -> anyhow::Result<Bearer> {
        Bearer::new(
            &self
                .minter
                .mint(subject, Some(subject), &[role], TOKEN_LIFETIME)?,
        )
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(STOP_LIMIT, self.server)
            .await
            .context("application-service did not stop in time")??
            .context("application-service failed")
    }
}
