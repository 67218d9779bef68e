//! application-service started in-process on a fresh database, throttling off, with a token
//! minter for the development key it verifies with.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use application_service::{config::Settings, startup::Application};
use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};
use zayavki_common::{outbox::RelayStats, shutdown::CancellationToken};
use zayavki_identity::{IdentityConfig, Role, ThrottleConfig, TokenMinter};
use zayavki_proto::applications::v1::application_service_client::ApplicationServiceClient;
use zayavki_testkit::TestDatabase;

/// The clients' HTTP/2 windows for answers (a batch's answer is a few hundred KiB), as a
/// client of a batch API would set them.
const CLIENT_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
const CLIENT_CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A running application-service; stopped and its database dropped when this is dropped.
pub struct RunningService {
    pub grpc_address: SocketAddr,
    pub http_address: SocketAddr,
    /// The service's own pool.
    pub pool: PgPool,
    pub settings: Settings,
    pub minter: TokenMinter,
    /// What the outbox relay has done, when the service publishes events.
    pub relay_stats: Option<watch::Receiver<RelayStats>>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the database outlives the server using it.
    pub database: TestDatabase,
}

/// Starts the service on loopback ports against a fresh database; `configure` may adjust the
/// settings first.
pub async fn spawn_service(
    configure: impl FnOnce(&mut Settings),
) -> anyhow::Result<RunningService> {
    let database = TestDatabase::fresh();
    let mut settings = Settings::for_database(database.url());
    settings.identity = IdentityConfig::development().0;
    settings.throttle = ThrottleConfig::disabled();
    configure(&mut settings);
    let minter = TokenMinter::new(&settings.identity).context("cannot mint bench tokens")?;
    let application = Application::build(settings.clone())
        .await
        .context("application-service does not start")?;
    let grpc_address = application.grpc_address();
    let http_address = application.http_address();
    let pool = application.pool().clone();
    let relay_stats = application.relay_stats();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(application.run_until_stopped(shutdown.clone()));
    Ok(RunningService {
        grpc_address,
        http_address,
        pool,
        settings,
        minter,
        relay_stats,
        shutdown,
        server: Some(server),
        database,
    })
}

impl RunningService {
    /// A bearer token for `subject` with `roles`, valid for an hour.
    pub fn token(&self, subject: &str, roles: &[Role]) -> anyhow::Result<String> {
        self.minter
            .mint(subject, Some(subject), roles, TOKEN_LIFETIME)
    }

    /// An interceptor that sends such a token with every gRPC call.
    pub fn bearer(&self, subject: &str, roles: &[Role]) -> anyhow::Result<Bearer> {
        Bearer::new(&self.token(subject, roles)?)
    }

    /// `count` separate HTTP/2 connections to the gRPC port.
    pub async fn grpc_channels(&self, count: usize) -> anyhow::Result<Vec<Channel>> {
        connect_channels(self.grpc_address, count).await
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(15), server)
                .await
                .context("application-service did not stop in time")??
                .context("application-service failed")?;
        }
        Ok(())
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// `count` separate HTTP/2 connections to a gRPC server at `address`. One connection carries
/// many calls at once; a few spread the framing work over the runtime's threads.
pub async fn connect_channels(address: SocketAddr, count: usize) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(5))
        .initial_stream_window_size(CLIENT_STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CLIENT_CONNECTION_WINDOW_BYTES)
        .tcp_nodelay(true);
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot connect to gRPC at {address}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// A client of the public gRPC API that sends a bearer token with every call.
pub type BearerClient = ApplicationServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        let value = format!("Bearer {token}")
            .parse()
            .context("a token is ASCII")?;
        Ok(Self(value))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}
