//! application-service's `ExportApplications` stream, called with a `service` token minted from
//! the configured key. Which failures pass (application-service away, overloaded, restarting)
//! and which do not (a job whose parameters the export refuses) is decided here, once.

use std::time::Duration;

use tonic::{Code, Request, Status, Streaming, transport::Channel};
use zayavki_identity::{Role, TokenMinter};
use zayavki_proto::applications::v1::{
    ExportApplicationsRequest, ExportApplicationsResponse,
    application_export_client::ApplicationExportClient,
};

const SUBJECT: &str = "report-service";
/// A report may take up to the broker's consumer timeout (30 min); the token outlives it.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct ExportClient {
    channel: Channel,
    minter: TokenMinter,
}

impl ExportClient {
    /// Connects lazily: report-service starts while application-service is still away.
    pub fn new(url: &str, minter: TokenMinter) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(20))
            .connect_lazy();
        Ok(Self { channel, minter })
    }

    /// Opens the export stream.
    pub async fn export(
        &self,
        request: ExportApplicationsRequest,
    ) -> Result<Streaming<ExportApplicationsResponse>, Status> {
        let token = self
            .minter
            .mint(SUBJECT, Some(SUBJECT), &[Role::Service], TOKEN_LIFETIME)
            .map_err(|error| Status::internal(format!("cannot mint a token: {error}")))?;
        let mut request = Request::new(request);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("the token is not valid metadata"))?;
        request.metadata_mut().insert("authorization", bearer);
        let mut client = ApplicationExportClient::with_interceptor(
            self.channel.clone(),
            zayavki_common::telemetry::TraceContextInterceptor,
        )
        .max_decoding_message_size(8 * 1024 * 1024);
        client
            .export_applications(request)
            .await
            .map(tonic::Response::into_inner)
    }
}

/// True when the same call may succeed later: application-service away, overloaded or
/// restarting. Anything else says the request itself is wrong.
pub fn is_passing(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition | Code::OutOfRange
    )
}
