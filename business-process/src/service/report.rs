//! On-demand reports: the request is recorded and its `report.job` written to the outbox in one
//! transaction, and the report id answered at once; report-service builds the report from the
//! job.
//!
//! The job carries the filing window exactly as the caller wrote it (once it is known to be
//! valid), since report-service hands it on to `ExportApplications`, which reads the same
//! formats. Any role may ask; an applicant's summary covers their own applications only,
//! because report-service exports by owner.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Caller, Processes, input::Violations};
use crate::{
    domain::{ProcessError, ReportFormat, ReportKind},
    driver::publish_report_job,
    storage::reports::{self, NewReportRequest},
};

/// The statuses of applications (application-service's) a summary may be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApplicationStatus {
    New,
    Processing,
    Completed,
    Cancelled,
    Rejected,
}

impl ApplicationStatus {
    /// As `report.job` and application events name them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
        }
    }
}

/// A report request as the adapter receives it.
#[derive(Clone, Debug)]
pub struct ReportInput {
    pub kind: ReportKind,
    pub format: ReportFormat,
    /// Whole UTC days (`2025-03-01`, both inclusive) or RFC 3339 timestamps; empty when open.
    pub applied_from: String,
    pub applied_to: String,
    /// Any of these; all when empty.
    pub statuses: Vec<ApplicationStatus>,
}

impl Processes {
    /// Queues the report and answers its id.
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn request_report(
        &self,
        caller: &Caller,
        input: ReportInput,
    ) -> Result<Uuid, ProcessError> {
        caller.require_any_role()?;
        let mut violations = Violations::new();
        if input.kind != ReportKind::ApplicationsSummary {
            violations.add(
                "kind",
                "only REPORT_KIND_APPLICATIONS_SUMMARY can be requested; purchase reports are made when an application completes",
            );
        }
        let window = applied_window(&input.applied_from, &input.applied_to, &mut violations);
        let (applied_from, applied_to) = violations.into_result(|| window)?;

        let report_id = Uuid::now_v7();
        let requested_at = Utc::now();
        let owner_role = caller.owner_role();
        let mut job = Map::new();
        job.insert("reportId".to_owned(), json!(report_id));
        job.insert("kind".to_owned(), json!(input.kind.as_str()));
        job.insert("format".to_owned(), json!(input.format.as_str()));
        job.insert("owner".to_owned(), json!(caller.subject));
        job.insert("ownerRole".to_owned(), json!(owner_role));
        if let Some(applied_from) = applied_from {
            job.insert("appliedFrom".to_owned(), json!(applied_from));
        }
        if let Some(applied_to) = applied_to {
            job.insert("appliedTo".to_owned(), json!(applied_to));
        }
        let mut statuses = input.statuses;
        statuses.sort();
        statuses.dedup();
        if !statuses.is_empty() {
            let names: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
            job.insert("statuses".to_owned(), json!(names));
        }
        job.insert("requestedAt".to_owned(), json!(requested_at));

        let mut transaction = self.pool.begin().await?;
        reports::insert(
            &mut transaction,
            &NewReportRequest {
                report_id,
                kind: input.kind,
                format: input.format,
                owner: &caller.subject,
                owner_role,
                application_id: None,
            },
        )
        .await?;
        publish_report_job(
            &mut transaction,
            report_id,
            &Value::Object(job),
            requested_at,
        )
        .await?;
        transaction.commit().await?;
        tracing::info!(report = %report_id, format = %input.format, "report requested");
        Ok(report_id)
    }
}

/// The filing window as given (each end None when open), provided both ends are valid and in
/// order; None with the wrong ends named in `violations` otherwise.
fn applied_window(
    applied_from: &str,
    applied_to: &str,
    violations: &mut Violations,
) -> Option<(Option<String>, Option<String>)> {
    let from = bound("applied_from", applied_from, Bound::Lower, violations);
    let to = bound("applied_to", applied_to, Bound::Upper, violations);
    if let (Some(Some((_, from))), Some(Some((_, before)))) = (&from, &to)
        && from >= before
    {
        violations.add("applied_to", "must not be earlier than applied_from");
        return None;
    }
    let given = |end: Option<(String, DateTime<Utc>)>| end.map(|(given, _)| given);
    Some((given(from?), given(to?)))
}

#[derive(Clone, Copy)]
enum Bound {
    Lower,
    Upper,
}

/// One end of the filing window: None when wrong (named in `violations`), Some(None) when open,
/// otherwise the text as given with the instant it stands for (an upper end exclusive).
fn bound(
    field: &str,
    raw: &str,
    bound: Bound,
    violations: &mut Violations,
) -> Option<Option<(String, DateTime<Utc>)>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(None);
    }
    violations
        .check(field, instant(raw, bound))
        .map(|at| Some((raw.to_owned(), at)))
}

/// A whole UTC day covers all of it; a timestamp is an inclusive end at the microsecond
/// precision applications are stored with.
fn instant(raw: &str, bound: Bound) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = match bound {
            Bound::Lower => Some(day),
            Bound::Upper => day.checked_add_days(Days::new(1)),
        };
        return day
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc())
            .ok_or_else(|| format!("{raw:?} is out of range"));
    }
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| format!("{raw:?} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"))?
        .with_timezone(&Utc);
    Ok(match bound {
        Bound::Lower => at,
        Bound::Upper => at + TimeDelta::microseconds(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: &str, to: &str) -> Vec<String> {
        let mut violations = Violations::new();
        let window = applied_window(from, to, &mut violations);
        match violations.into_result(|| window) {
            Ok(_) => Vec::new(),
            Err(ProcessError::Validation(wrong)) => {
                wrong.into_iter().map(|violation| violation.field).collect()
            }
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn whole_days_and_timestamps_are_accepted_in_order() {
        assert!(window("", "").is_empty());
        assert!(window("2025-03-01", "2025-03-01").is_empty());
        assert!(window("2025-03-01T10:00:00+03:00", "2025-03-01T07:00:00Z").is_empty());
        assert_eq!(window("2025-03-02", "2025-03-01"), ["applied_to"]);
        assert_eq!(
            window("yesterday", "2025-02-30"),
            ["applied_from", "applied_to"]
        );
    }
}
