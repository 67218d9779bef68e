//! application-service's lifecycle API, called with a `service` token minted from the
//! configured key. Every call is safe to repeat (a move to the status the application already
//! has returns it unchanged), so a passing failure (unavailable, deadline exceeded, throttled) is
//! retried with backoff, and the caller postpones the step when the retries are spent. Every
//! call carries the trace of the step that makes it.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;
use zayavki_common::telemetry::TraceContextInterceptor;
use zayavki_identity::{Role, TokenMinter};
use zayavki_proto::applications::v1::{
    self as pb, application_lifecycle_client::ApplicationLifecycleClient,
};

const SUBJECT: &str = "business-process";
const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPTS: usize = 3;

/// The application as application-service answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    pub version: i64,
}

/// What became of a lifecycle call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The application has the asked-for status (now, or already).
    Moved(Moved),
    /// Its status does not allow the move (for example it was cancelled meanwhile).
    Refused(String),
    /// application-service does not know the application.
    Missing,
}

#[derive(Clone, Copy, Debug)]
enum Move {
    Start,
    Complete,
    Reject,
}

#[derive(Clone)]
pub struct ApplicationsClient {
    channel: Channel,
    minter: TokenMinter,
}

impl ApplicationsClient {
    /// Connects lazily: business-process starts while application-service is still away.
    pub fn new(url: &str, minter: TokenMinter) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self { channel, minter })
    }

    /// NEW → PROCESSING.
    pub async fn start_processing(&self, id: Uuid) -> anyhow::Result<Outcome> {
        self.call(Move::Start, id, None).await
    }

    /// PROCESSING → COMPLETED.
    pub async fn complete(&self, id: Uuid) -> anyhow::Result<Outcome> {
        self.call(Move::Complete, id, None).await
    }

    /// PROCESSING → REJECTED with `reason`.
    pub async fn reject(&self, id: Uuid, reason: &str) -> anyhow::Result<Outcome> {
        self.call(Move::Reject, id, Some(reason)).await
    }

    async fn call(&self, to: Move, id: Uuid, reason: Option<&str>) -> anyhow::Result<Outcome> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_secs(2))
            .with_jitter()
            .with_max_times(ATTEMPTS - 1)
            .build();
        loop {
            match self.call_once(to, id, reason).await {
                Ok(application) => {
                    return Ok(Outcome::Moved(Moved {
                        version: application.version,
                    }));
                }
                Err(status) => match status.code() {
                    Code::FailedPrecondition => {
                        return Ok(Outcome::Refused(status.message().to_owned()));
                    }
                    Code::NotFound => return Ok(Outcome::Missing),
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::Unknown => match backoff.next() {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => anyhow::bail!(
                            "application-service did not answer {to:?} for {id}: {}",
                            status.message()
                        ),
                    },
                    _ => anyhow::bail!(
                        "application-service refused {to:?} for {id}: {:?} {}",
                        status.code(),
                        status.message()
                    ),
                },
            }
        }
    }

    async fn call_once(
        &self,
        to: Move,
        id: Uuid,
        reason: Option<&str>,
    ) -> Result<pb::Application, tonic::Status> {
        let token = self
            .minter
            .mint(SUBJECT, Some(SUBJECT), &[Role::Service], TOKEN_LIFETIME)
            .map_err(|error| tonic::Status::internal(format!("cannot mint a token: {error}")))?;
        let mut request = Request::new(pb::TransitionRequest {
            id: id.to_string(),
            expected_version: None,
            reason: reason.map(str::to_owned),
        });
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::internal("the token is not valid metadata"))?;
        request.metadata_mut().insert("authorization", bearer);
        let mut client = ApplicationLifecycleClient::with_interceptor(
            self.channel.clone(),
            TraceContextInterceptor,
        );
        let answer = match to {
            Move::Start => client.start_processing(request).await,
            Move::Complete => client.complete_application(request).await,
            Move::Reject => client.reject_application(request).await,
        };
        answer.map(tonic::Response::into_inner)
    }
}
