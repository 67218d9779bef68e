//! `applications.v1.ApplicationService`.

use tonic::{Request, Response, Status};
use zayavki_identity::{Throttle, ThrottleKey};
use zayavki_proto::applications::v1::{self as pb, application_service_server::ApplicationService};

use super::{caller_of, convert, error_status::invalid_field};
use crate::service::{Applications, SearchQuery};

pub struct ApplicationGrpc {
    applications: Applications,
    throttle: Throttle,
}

impl ApplicationGrpc {
    pub fn new(applications: Applications, throttle: Throttle) -> Self {
        Self {
            applications,
            throttle,
        }
    }
}

#[tonic::async_trait]
impl ApplicationService for ApplicationGrpc {
    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let draft = body
            .application
            .ok_or_else(|| invalid_field("application", "is required"))?;
        let created = self
            .applications
            .create(
                &caller,
                Some(&body.request_id),
                convert::new_application(draft),
            )
            .await?;
        Ok(Response::new(convert::application(created.value)))
    }

    async fn batch_create_applications(
        &self,
        request: Request<pb::BatchCreateApplicationsRequest>,
    ) -> Result<Response<pb::BatchCreateApplicationsResponse>, Status> {
        let caller = caller_of(&request)?;
        // The throttle layer charged one unit for the call; a batch pays for every further item.
        let extra_items = u32::try_from(request.get_ref().applications.len().saturating_sub(1))
            .unwrap_or(u32::MAX);
        if extra_items > 0 {
            let key = ThrottleKey::from_extensions(request.extensions());
            self.throttle
                .check(&key, extra_items)
                .map_err(|throttled| throttled.to_status())?;
        }
        let body = request.into_inner();
        let drafts = body
            .applications
            .into_iter()
            .map(convert::new_application)
            .collect();
        let created = self
            .applications
            .batch_create(&caller, Some(&body.request_id), drafts)
            .await?;
        Ok(Response::new(pb::BatchCreateApplicationsResponse {
            applications: created
                .value
                .into_iter()
                .map(convert::application)
                .collect(),
        }))
    }

    async fn cancel_application(
        &self,
        request: Request<pb::CancelApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let cancelled = self
            .applications
            .cancel(&caller, &body.id, body.reason.as_deref())
            .await?;
        Ok(Response::new(convert::application(cancelled)))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller_of(&request)?;
        let application = self
            .applications
            .get(&caller, &request.get_ref().id)
            .await?;
        Ok(Response::new(convert::application(application)))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let query = convert::list_query(
            body.applied_from,
            body.applied_to,
            &body.status,
            body.page_size,
            body.page_token,
        )?;
        let page = self.applications.list(&caller, query).await?;
        Ok(Response::new(pb::ListApplicationsResponse {
            applications: page.items.into_iter().map(convert::application).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn search_applications(
        &self,
        request: Request<pb::SearchApplicationsRequest>,
    ) -> Result<Response<pb::SearchApplicationsResponse>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let query = SearchQuery {
            text: body.q,
            filters: convert::list_query(
                body.applied_from,
                body.applied_to,
                &body.status,
                body.page_size,
                body.page_token,
            )?,
        };
        let page = self.applications.search(&caller, query).await?;
        Ok(Response::new(pb::SearchApplicationsResponse {
            hits: page
                .items
                .into_iter()
                .map(|hit| pb::SearchHit {
                    application: Some(convert::application(hit.application)),
                    score: hit.score,
                    snippet: hit.snippet,
                })
                .collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }
}
