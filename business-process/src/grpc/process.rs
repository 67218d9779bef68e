//! `process.v1.BusinessProcessService`.

use tonic::{Request, Response, Status};
use zayavki_proto::process::v1::{
    self as pb, business_process_service_server::BusinessProcessService,
};

use super::{caller_of, convert};
use crate::service::{DecisionInput, ListQuery, Processes, ReportInput};

pub struct ProcessGrpc {
    processes: Processes,
}

impl ProcessGrpc {
    /// Serve it with `BusinessProcessServiceServer::new(ProcessGrpc::new(processes))`.
    pub fn new(processes: Processes) -> Self {
        Self { processes }
    }
}

#[tonic::async_trait]
impl BusinessProcessService for ProcessGrpc {
    async fn get_process(
        &self,
        request: Request<pb::GetProcessRequest>,
    ) -> Result<Response<pb::Process>, Status> {
        let caller = caller_of(&request)?;
        let view = self
            .processes
            .get(&caller, &request.get_ref().application_id)
            .await?;
        Ok(Response::new(convert::process(view)))
    }

    async fn list_processes(
        &self,
        request: Request<pb::ListProcessesRequest>,
    ) -> Result<Response<pb::ListProcessesResponse>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let query = ListQuery {
            states: convert::process_states(&body.state)?,
            page_size: i64::from(body.page_size),
            page_token: body.page_token,
        };
        let page = self.processes.list(&caller, query).await?;
        Ok(Response::new(pb::ListProcessesResponse {
            processes: page.items.into_iter().map(convert::process).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn decide_application(
        &self,
        request: Request<pb::DecideApplicationRequest>,
    ) -> Result<Response<pb::Process>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let input = DecisionInput {
            application_id: body.application_id,
            decision: convert::decision(body.decision),
            comment: body.comment,
            request_id: body.request_id,
        };
        let view = self.processes.decide(&caller, input).await?;
        Ok(Response::new(convert::process(view)))
    }

    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let budget = self
            .processes
            .budget(&caller, &body.applicant, &body.month)
            .await?;
        Ok(Response::new(convert::budget(budget)))
    }

    async fn set_budget(
        &self,
        request: Request<pb::SetBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let budget = self
            .processes
            .set_budget(&caller, &body.applicant, &body.monthly_limit)
            .await?;
        Ok(Response::new(convert::budget(budget)))
    }

    async fn request_report(
        &self,
        request: Request<pb::RequestReportRequest>,
    ) -> Result<Response<pb::RequestReportResponse>, Status> {
        let caller = caller_of(&request)?;
        let body = request.into_inner();
        let input = ReportInput {
            kind: convert::report_kind(body.kind)?,
            format: convert::report_format(body.format)?,
            applied_from: body.applied_from,
            applied_to: body.applied_to,
            statuses: convert::application_statuses(&body.statuses)?,
        };
        let report_id = self.processes.request_report(&caller, input).await?;
        Ok(Response::new(pb::RequestReportResponse {
            report_id: report_id.to_string(),
        }))
    }
}
