use std::{sync::Arc, time::Duration};

use application_service::{grpc::applications::ApplicationGrpc, indexing, service::Applications};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use zayavki_bench::{
    drafts::DraftGenerator,
    load::{LoadPlan, run_bounded},
    service::{connect_channels, spawn_service},
};
use zayavki_common::shutdown::CancellationToken;
use zayavki_identity::{GrpcAuthLayer, Role, Throttle, ThrottleConfig, TokenVerifier};
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
    application_service_server::ApplicationServiceServer,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = spawn_service(|_| {}).await?;
    let bearer = service.bearer("a", &[Role::Applicant])?;
    let channels = service.grpc_channels(4).await?;
    let mut client =
        ApplicationServiceClient::with_interceptor(channels[0].clone(), bearer.clone());
    let mut ids = Vec::new();
    let mut generator = DraftGenerator::new(1);
    for _ in 0..5 {
        let created = client
            .batch_create_applications(pb::BatchCreateApplicationsRequest {
                request_id: String::new(),
                applications: generator.drafts(1000),
            })
            .await?
            .into_inner();
        ids.extend(created.applications.into_iter().map(|a| a.id));
    }
    let ids = Arc::new(ids);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let verifier = TokenVerifier::new(&service.settings.identity)?;
    let dir = tempfile::tempdir()?;
    let index = indexing::open_or_rebuild(dir.path())?;
    let applications = Applications::new(service.pool.clone(), index);
    let shutdown = CancellationToken::new();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let auth_only = listener.local_addr()?;
    let server = tonic::transport::Server::builder()
        .layer(GrpcAuthLayer::new(verifier.clone()))
        .add_service(ApplicationServiceServer::new(ApplicationGrpc::new(
            applications.clone(),
            Throttle::new(ThrottleConfig::disabled())?,
        )))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.clone().cancelled_owned(),
        );
    tokio::spawn(server);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let sql_only = listener.local_addr()?;
    let constant = client
        .get_application(pb::GetApplicationRequest { id: ids[0].clone() })
        .await?
        .into_inner();
    let server = tonic::transport::Server::builder()
        .add_service(ApplicationServiceServer::new(SqlOnly {
            pool: service.pool.clone(),
            constant,
        }))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.clone().cancelled_owned(),
        );
    tokio::spawn(server);

    for round in 0..2 {
        for (name, address) in [
            ("real service", service.grpc_address),
            ("auth only", auth_only),
            ("sql only", sql_only),
        ] {
            let channels = connect_channels(address, 4).await?;
            let clients: Arc<Vec<_>> = Arc::new(
                channels
                    .into_iter()
                    .map(|c| ApplicationServiceClient::with_interceptor(c, bearer.clone()))
                    .collect(),
            );
            let ids = ids.clone();
            let plan = LoadPlan::new(32, Duration::from_secs(4));
            let report = run_bounded(plan, move |caller| {
                let mut client = clients[caller % clients.len()].clone();
                let id = ids[rand::random_range(0..ids.len())].clone();
                async move {
                    client
                        .get_application(pb::GetApplicationRequest { id })
                        .await
                        .map(drop)
                }
            })
            .await?;
            println!(
                "round {round} {name}: {:.0} req/s p50 {:?}",
                report.throughput(),
                report.latency.p50()
            );
        }
    }
    shutdown.cancel();
    Ok(())
}

struct SqlOnly {
    pool: sqlx::PgPool,
    constant: pb::Application,
}

#[tonic::async_trait]
impl zayavki_proto::applications::v1::application_service_server::ApplicationService for SqlOnly {
    async fn create_application(
        &self,
        _r: tonic::Request<pb::CreateApplicationRequest>,
    ) -> Result<tonic::Response<pb::Application>, tonic::Status> {
        Err(tonic::Status::unimplemented(""))
    }
    async fn batch_create_applications(
        &self,
        _r: tonic::Request<pb::BatchCreateApplicationsRequest>,
    ) -> Result<tonic::Response<pb::BatchCreateApplicationsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented(""))
    }
    async fn cancel_application(
        &self,
        _r: tonic::Request<pb::CancelApplicationRequest>,
    ) -> Result<tonic::Response<pb::Application>, tonic::Status> {
        Err(tonic::Status::unimplemented(""))
    }
    async fn list_applications(
        &self,
        _r: tonic::Request<pb::ListApplicationsRequest>,
    ) -> Result<tonic::Response<pb::ListApplicationsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented(""))
    }
    async fn search_applications(
        &self,
        _r: tonic::Request<pb::SearchApplicationsRequest>,
    ) -> Result<tonic::Response<pb::SearchApplicationsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented(""))
    }
    async fn get_application(
        &self,
        request: tonic::Request<pb::GetApplicationRequest>,
    ) -> Result<tonic::Response<pb::Application>, tonic::Status> {
        let id = uuid::Uuid::parse_str(&request.get_ref().id)
            .map_err(|_| tonic::Status::invalid_argument("id"))?;
        let statement = format!(
            "SELECT {} FROM applications WHERE id = $1",
            application_service::storage::application_rows::COLUMNS
        );
        let row: Option<application_service::storage::application_rows::ApplicationRow> =
            sqlx::query_as(&statement)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| tonic::Status::internal(e.to_string()))?;
        row.ok_or_else(|| tonic::Status::not_found(""))?;
        Ok(tonic::Response::new(self.constant.clone()))
    }
}
