//! `applications.v1.ApplicationExport`.

use std::pin::Pin;

use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};
use zayavki_proto::applications::v1::{self as pb, application_export_server::ApplicationExport};

use super::{caller_of, convert, error_status::invalid_field};
use crate::service::{Applications, ExportOrder, ExportQuery};

pub struct ExportGrpc {
    applications: Applications,
}

impl ExportGrpc {
    pub fn new(applications: Applications) -> Self {
        Self { applications }
    }
}

pub type ExportStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportApplicationsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ApplicationExport for ExportGrpc {
    type ExportApplicationsStream = ExportStream;

    async fn export_applications(
        &self,
        request: Request<pb::ExportApplicationsRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let query = ExportQuery {
            applied_from: convert::optional(body.applied_from),
            applied_to: convert::optional(body.applied_to),
            statuses: convert::statuses(&body.status, "status").map_err(Status::from)?,
            applicant: convert::optional(body.applicant),
            application_ids: body.application_ids,
            order: order(body.order)?,
            chunk_size: Some(i64::from(body.chunk_size)),
        };
        let export = self
            .applications
            .export(&caller, query, convert::application)
            .await
            .map_err(Status::from)?;
        let mut total = Some(i64::try_from(export.total).unwrap_or(i64::MAX));
        let messages = ReceiverStream::new(export.chunks).map(move |chunk| {
            chunk
                .map(|applications| pb::ExportApplicationsResponse {
                    total: total.take(),
                    applications,
                })
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(messages)))
    }
}

fn order(value: i32) -> Result<ExportOrder, Status> {
    match pb::ExportOrder::try_from(value) {
        Ok(pb::ExportOrder::Unspecified | pb::ExportOrder::Id) => Ok(ExportOrder::Id),
        Ok(pb::ExportOrder::AppliedAt) => Ok(ExportOrder::AppliedAt),
        Err(_) => Err(invalid_field(
            "order",
            &format!(
                "{value} is not an order; expected EXPORT_ORDER_ID or EXPORT_ORDER_APPLIED_AT"
            ),
        )),
    }
}
