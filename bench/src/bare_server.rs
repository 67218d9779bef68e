//! A bare tonic server for baselines: `ApplicationService` with nothing but GetApplication,
//! answering one constant message, optionally after running the service's SELECT for the
//! requested id.

use std::net::SocketAddr;

use application_service::storage::application_rows::{ApplicationRow, COLUMNS};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tonic::{
    Request, Response, Status,
    transport::{Server, server::TcpIncoming},
};
use uuid::Uuid;
use zayavki_common::shutdown::CancellationToken;
use zayavki_proto::applications::v1::{
    self as pb,
    application_service_client::ApplicationServiceClient,
    application_service_server::{ApplicationService, ApplicationServiceServer},
};

use crate::service::{Bearer, BearerClient, connect_channels};

/// A tonic server with nothing but GetApplication, answering one constant message: the floor
/// of what any tonic service can do on this machine. With a pool it first runs the service's
/// SELECT for the requested id, so it shows what gRPC plus the query cost without any of the
/// service's own code (authentication, validation, conversion).
pub struct BareServer {
    pub address: SocketAddr,
    shutdown: CancellationToken,
}

impl BareServer {
    pub async fn start(
        application: pb::Application,
        select: Option<PgPool>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let server = Server::builder()
            .add_service(ApplicationServiceServer::new(ConstantApplication {
                application,
                select,
            }))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown.clone().cancelled_owned(),
            );
        tokio::spawn(async move {
            if let Err(error) = server.await {
                eprintln!("bare tonic server failed: {error}");
            }
        });
        Ok(Self { address, shutdown })
    }

    /// Clients over `channels` connections, sending the same token as the service's clients.
    pub async fn clients(
        &self,
        channels: usize,
        bearer: &Bearer,
    ) -> anyhow::Result<Vec<BearerClient>> {
        Ok(connect_channels(self.address, channels)
            .await?
            .into_iter()
            .map(|channel| ApplicationServiceClient::with_interceptor(channel, bearer.clone()))
            .collect())
    }

    /// Stops serving; dropping the server does the same.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

struct ConstantApplication {
    application: pb::Application,
    select: Option<PgPool>,
}

fn not_in_bench() -> Status {
    Status::unimplemented("the bare server answers GetApplication only")
}

#[tonic::async_trait]
impl ApplicationService for ConstantApplication {
    async fn create_application(
        &self,
        _request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        Err(not_in_bench())
    }

    async fn batch_create_applications(
        &self,
        _request: Request<pb::BatchCreateApplicationsRequest>,
    ) -> Result<Response<pb::BatchCreateApplicationsResponse>, Status> {
        Err(not_in_bench())
    }

    async fn cancel_application(
        &self,
        _request: Request<pb::CancelApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        Err(not_in_bench())
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        if let Some(pool) = &self.select {
            let select_statement = format!("SELECT {COLUMNS} FROM applications WHERE id = $1");
            let id = Uuid::parse_str(&request.get_ref().id)
                .map_err(|_| Status::invalid_argument("id is not a UUID"))?;
            let row: Option<ApplicationRow> = sqlx::query_as(&select_statement)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|error| Status::internal(error.to_string()))?;
            row.ok_or_else(|| Status::not_found("no such application"))?;
        }
        Ok(Response::new(self.application.clone()))
    }

    async fn list_applications(
        &self,
        _request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        Err(not_in_bench())
    }

    async fn search_applications(
        &self,
        _request: Request<pb::SearchApplicationsRequest>,
    ) -> Result<Response<pb::SearchApplicationsResponse>, Status> {
        Err(not_in_bench())
    }
}
