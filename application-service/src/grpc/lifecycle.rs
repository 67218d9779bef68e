//! `applications.v1.ApplicationLifecycle`: the internal API of the business process.

use tonic::{Request, Response, Status};
use zayavki_proto::applications::v1::{
    self as pb, application_lifecycle_server::ApplicationLifecycle,
};

use super::{caller_of, convert};
use crate::{
    domain::ApplicationStatus,
    service::{Applications, Transition},
};

pub struct LifecycleGrpc {
    applications: Applications,
}

impl LifecycleGrpc {
    pub fn new(applications: Applications) -> Self {
        Self { applications }
    }

    async fn transition(
        &self,
        request: Request<pb::TransitionRequest>,
        target: ApplicationStatus,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let transition = Transition {
            id: &body.id,
            target,
            expected_version: body.expected_version,
            reason: body.reason.as_deref(),
        };
        let application = self.applications.transition(&caller, transition).await?;
        Ok(Response::new(convert::application(application)))
    }
}

#[tonic::async_trait]
impl ApplicationLifecycle for LifecycleGrpc {
    async fn start_processing(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        self.transition(request, ApplicationStatus::Processing)
            .await
    }

    async fn complete_application(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        self.transition(request, ApplicationStatus::Completed).await
    }

    async fn reject_application(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        self.transition(request, ApplicationStatus::Rejected).await
    }
}
