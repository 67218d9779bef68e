//! A `report.job` message, read and checked: a job that passes is one the worker can build.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;
use zayavki_proto::applications::v1::ApplicationStatus;

use super::{ReportFormat, ReportKind};

/// Why a job can never be built as written; the worker dead-letters it with this reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

/// One step of a process's history, as business-process recorded it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HistoryStep {
    pub step: String,
    /// As written by business-process (RFC 3339).
    pub at: String,
    #[serde(default)]
    pub details: Value,
}

/// What the report covers.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportParameters {
    /// The application of a purchase report.
    pub application_id: Option<Uuid>,
    /// Whole UTC days (`2026-03-01`) or RFC 3339 timestamps, passed to the export as given.
    pub applied_from: Option<String>,
    pub applied_to: Option<String>,
    /// Any of these; all when empty. Names as in application events (`COMPLETED`).
    pub statuses: Vec<ApplicationStatus>,
    /// The process history of a purchase report.
    pub history: Vec<HistoryStep>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportJob {
    pub report_id: Uuid,
    pub kind: ReportKind,
    pub format: ReportFormat,
    /// The user the report belongs to.
    pub owner: String,
    /// `applicant` (the report covers their own applications only), `operator` or `service`.
    pub owner_role: String,
    pub parameters: ReportParameters,
    pub requested_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJob {
    report_id: Uuid,
    kind: String,
    format: String,
    owner: String,
    owner_role: String,
    application_id: Option<Uuid>,
    applied_from: Option<String>,
    applied_to: Option<String>,
    #[serde(default)]
    statuses: Vec<String>,
    #[serde(default)]
    history: Vec<HistoryStep>,
    requested_at: Option<DateTime<Utc>>,
}

impl ReportJob {
    /// Reads a job from a message body.
    pub fn parse(body: &[u8]) -> Result<Self, JobError> {
        let raw: RawJob = serde_json::from_slice(body)
            .map_err(|error| JobError(format!("the job is not a valid report.job: {error}")))?;
        let kind: ReportKind = raw.kind.parse().map_err(JobError)?;
        let format: ReportFormat = raw.format.parse().map_err(JobError)?;
        let owner = raw.owner.trim().to_owned();
        if owner.is_empty() {
            return Err(JobError("the job names no owner".to_owned()));
        }
        if !matches!(
            raw.owner_role.as_str(),
            "applicant" | "operator" | "service"
        ) {
            return Err(JobError(format!(
                "{:?} is not an owner role (applicant, operator or service)",
                raw.owner_role
            )));
        }
        if kind == ReportKind::Purchase && raw.application_id.is_none() {
            return Err(JobError("a PURCHASE job needs an applicationId".to_owned()));
        }
        let statuses = raw
            .statuses
            .iter()
            .map(|name| {
                ApplicationStatus::from_str_name(&format!("APPLICATION_STATUS_{name}"))
                    .filter(|status| *status != ApplicationStatus::Unspecified)
                    .ok_or_else(|| JobError(format!("{name:?} is not an application status")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let blank_is_open = |bound: Option<String>| {
            bound
                .map(|bound| bound.trim().to_owned())
                .filter(|bound| !bound.is_empty())
        };
        Ok(Self {
            report_id: raw.report_id,
            kind,
            format,
            owner,
            owner_role: raw.owner_role,
            parameters: ReportParameters {
                application_id: raw.application_id,
                applied_from: blank_is_open(raw.applied_from),
                applied_to: blank_is_open(raw.applied_to),
                statuses,
                history: raw.history,
            },
            requested_at: raw.requested_at.unwrap_or_else(Utc::now),
        })
    }

    /// The report covers only the owner's own applications.
    pub fn is_owners_only(&self) -> bool {
        self.owner_role == "applicant"
    }

    /// The parameters as the `reports` row and the API show them.
    pub fn parameters_json(&self) -> Value {
        let parameters = &self.parameters;
        let mut shown = Map::new();
        if let Some(id) = parameters.application_id {
            shown.insert("applicationId".to_owned(), json!(id));
        }
        if let Some(from) = &parameters.applied_from {
            shown.insert("appliedFrom".to_owned(), json!(from));
        }
        if let Some(to) = &parameters.applied_to {
            shown.insert("appliedTo".to_owned(), json!(to));
        }
        if !parameters.statuses.is_empty() {
            shown.insert(
                "statuses".to_owned(),
                json!(status_names(&parameters.statuses)),
            );
        }
        Value::Object(shown)
    }
}

/// `COMPLETED`, as events and jobs name a status.
pub fn status_name(status: ApplicationStatus) -> &'static str {
    status
        .as_str_name()
        .strip_prefix("APPLICATION_STATUS_")
        .unwrap_or("UNSPECIFIED")
}

fn status_names(statuses: &[ApplicationStatus]) -> Vec<&'static str> {
    statuses.iter().copied().map(status_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_job_as_business_process_writes_it_is_read() {
        let id = Uuid::now_v7();
        let body = json!({
            "reportId": id, "kind": "APPLICATIONS_SUMMARY", "format": "XLSX",
            "owner": "anna", "ownerRole": "applicant", "appliedFrom": "2026-03-01",
            "appliedTo": "2026-03-31", "statuses": ["COMPLETED", "REJECTED"],
            "requestedAt": "2026-04-01T10:00:00Z"
        });

        let job = ReportJob::parse(body.to_string().as_bytes()).expect("a valid job");

        assert_eq!(job.report_id, id);
        assert_eq!(job.kind, ReportKind::ApplicationsSummary);
        assert_eq!(job.format, ReportFormat::Xlsx);
        assert!(job.is_owners_only());
        assert_eq!(
            job.parameters.statuses,
            [ApplicationStatus::Completed, ApplicationStatus::Rejected]
        );
        assert_eq!(
            job.parameters_json(),
            json!({"appliedFrom": "2026-03-01", "appliedTo": "2026-03-31",
                   "statuses": ["COMPLETED", "REJECTED"]})
        );
    }

    #[test]
    fn jobs_that_cannot_be_built_say_why() {
        let id = Uuid::now_v7();
        let cases = [
            (json!("not an object"), "not a valid report.job"),
            (
                json!({"reportId": id, "kind": "PURCHASE", "format": "CSV", "owner": "anna",
                       "ownerRole": "applicant"}),
                "needs an applicationId",
            ),
            (
                json!({"reportId": id, "kind": "APPLICATIONS_SUMMARY", "format": "PDF",
                       "owner": "anna", "ownerRole": "applicant"}),
                "not a report format",
            ),
            (
                json!({"reportId": id, "kind": "APPLICATIONS_SUMMARY", "format": "CSV",
                       "owner": "anna", "ownerRole": "applicant", "statuses": ["DONE"]}),
                "not an application status",
            ),
            (
                json!({"reportId": id, "kind": "APPLICATIONS_SUMMARY", "format": "CSV",
                       "owner": " ", "ownerRole": "applicant"}),
                "no owner",
            ),
        ];
        for (body, expected) in cases {
            let error = ReportJob::parse(body.to_string().as_bytes()).expect_err("refused");
            assert!(error.0.contains(expected), "{body}: {error}");
        }
    }
}
