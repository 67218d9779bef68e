//! Protobuf ↔ use-case conversions. Enum numbers the proto does not define, and UNSPECIFIED
//! where a value is required, are named as wrong fields.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use zayavki_proto::{applications::v1 as applications_pb, process::v1 as pb};

use crate::{
    domain::{ProcessError, ProcessState, ReportFormat, ReportKind, error::FieldViolation},
    service::{ApplicationStatus, BudgetView, Decision, ProcessView},
    storage::{budgets::Reservation, steps::Step},
};

pub fn process(view: ProcessView) -> pb::Process {
    let ProcessView {
        process,
        reservation: held,
        steps,
    } = view;
    pb::Process {
        application_id: process.application_id.to_string(),
        applicant: process.applicant,
        title: process.title,
        total_amount: process.total_amount.to_string(),
        state: process_state(process.state) as i32,
        version: process.version,
        reason: process.reason,
        decision_due_at: process.decision_due_at.map(timestamp),
        reservation: held.map(reservation),
        steps: steps.into_iter().map(step).collect(),
        purchase_report_id: process.purchase_report_id.map(|id| id.to_string()),
        applied_at: Some(timestamp(process.applied_at)),
        created_at: Some(timestamp(process.created_at)),
        updated_at: Some(timestamp(process.updated_at)),
    }
}

pub fn budget(view: BudgetView) -> pb::Budget {
    pb::Budget {
        applicant: view.applicant,
        month: view.month.to_string(),
        monthly_limit: view.monthly_limit.to_string(),
        reserved: view.reserved.to_string(),
        committed: view.committed.to_string(),
        available: view.available.to_string(),
        default_limit: view.default_limit,
    }
}

fn reservation(reservation: Reservation) -> pb::Reservation {
    let state = match reservation.state.as_str() {
        "RESERVED" => pb::ReservationState::Reserved,
        "COMMITTED" => pb::ReservationState::Committed,
        "RELEASED" => pb::ReservationState::Released,
        _ => pb::ReservationState::Unspecified,
    };
    pb::Reservation {
        amount: reservation.amount.to_string(),
        month: reservation.month.to_string(),
        state: state as i32,
    }
}

fn step(step: Step) -> pb::Step {
    pb::Step {
        step: step.step,
        at: Some(timestamp(step.at)),
        details_json: step.details.0.to_string(),
    }
}

pub fn process_state(state: ProcessState) -> pb::ProcessState {
    match state {
        ProcessState::Starting => pb::ProcessState::Starting,
        ProcessState::AwaitingDecision => pb::ProcessState::AwaitingDecision,
        ProcessState::Approving => pb::ProcessState::Approving,
        ProcessState::Rejecting => pb::ProcessState::Rejecting,
        ProcessState::Cancelling => pb::ProcessState::Cancelling,
        ProcessState::Completed => pb::ProcessState::Completed,
        ProcessState::Rejected => pb::ProcessState::Rejected,
        ProcessState::Cancelled => pb::ProcessState::Cancelled,
    }
}

/// The `state` filter of a listing.
pub fn process_states(values: &[i32]) -> Result<Vec<ProcessState>, ProcessError> {
    let expected = ProcessState::ALL
        .map(|state| process_state(state).as_str_name())
        .join(", ");
    each_of(values, "state", &expected, |value| {
        let state = match pb::ProcessState::try_from(value).ok()? {
            pb::ProcessState::Unspecified => return None,
            pb::ProcessState::Starting => ProcessState::Starting,
            pb::ProcessState::AwaitingDecision => ProcessState::AwaitingDecision,
            pb::ProcessState::Approving => ProcessState::Approving,
            pb::ProcessState::Rejecting => ProcessState::Rejecting,
            pb::ProcessState::Cancelling => ProcessState::Cancelling,
            pb::ProcessState::Completed => ProcessState::Completed,
            pb::ProcessState::Rejected => ProcessState::Rejected,
            pb::ProcessState::Cancelled => ProcessState::Cancelled,
        };
        Some(state)
    })
}

/// The `statuses` filter of a report.
pub fn application_statuses(values: &[i32]) -> Result<Vec<ApplicationStatus>, ProcessError> {
    let expected = "APPLICATION_STATUS_NEW, APPLICATION_STATUS_PROCESSING, \
        APPLICATION_STATUS_COMPLETED, APPLICATION_STATUS_CANCELLED, APPLICATION_STATUS_REJECTED";
    each_of(values, "statuses", expected, |value| {
        let status = match applications_pb::ApplicationStatus::try_from(value).ok()? {
            applications_pb::ApplicationStatus::Unspecified => return None,
            applications_pb::ApplicationStatus::New => ApplicationStatus::New,
            applications_pb::ApplicationStatus::Processing => ApplicationStatus::Processing,
            applications_pb::ApplicationStatus::Completed => ApplicationStatus::Completed,
            applications_pb::ApplicationStatus::Cancelled => ApplicationStatus::Cancelled,
            applications_pb::ApplicationStatus::Rejected => ApplicationStatus::Rejected,
        };
        Some(status)
    })
}

/// None when the request names no decision (the use case says what is expected).
pub fn decision(value: i32) -> Option<Decision> {
    match pb::Decision::try_from(value).ok()? {
        pb::Decision::Unspecified => None,
        pb::Decision::Approve => Some(Decision::Approve),
        pb::Decision::Reject => Some(Decision::Reject),
    }
}

/// APPLICATIONS_SUMMARY when unspecified.
pub fn report_kind(value: i32) -> Result<ReportKind, ProcessError> {
    match pb::ReportKind::try_from(value) {
        Ok(pb::ReportKind::Unspecified | pb::ReportKind::ApplicationsSummary) => {
            Ok(ReportKind::ApplicationsSummary)
        }
        Err(_) => Err(ProcessError::invalid(
            "kind",
            format!("{value} is not a report kind; expected REPORT_KIND_APPLICATIONS_SUMMARY"),
        )),
    }
}

/// CSV when unspecified.
pub fn report_format(value: i32) -> Result<ReportFormat, ProcessError> {
    match pb::ReportFormat::try_from(value) {
        Ok(pb::ReportFormat::Unspecified | pb::ReportFormat::Csv) => Ok(ReportFormat::Csv),
        Ok(pb::ReportFormat::Json) => Ok(ReportFormat::Json),
        Ok(pb::ReportFormat::Xlsx) => Ok(ReportFormat::Xlsx),
        Err(_) => Err(ProcessError::invalid(
            "format",
            format!(
                "{value} is not a report format; expected REPORT_FORMAT_CSV, REPORT_FORMAT_JSON or REPORT_FORMAT_XLSX"
            ),
        )),
    }
}

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Converts each enum number of a repeated field, naming every one `convert` refuses
/// (`state[2]`) with the values it accepts, `expected`.
fn each_of<T>(
    values: &[i32],
    field: &str,
    expected: &str,
    convert: impl Fn(i32) -> Option<T>,
) -> Result<Vec<T>, ProcessError> {
    let mut converted = Vec::with_capacity(values.len());
    let mut violations = Vec::new();
    for (index, value) in values.iter().enumerate() {
        match convert(*value) {
            Some(one) => converted.push(one),
            None => violations.push(FieldViolation {
                field: format!("{field}[{index}]"),
                description: format!("{value} is not accepted here; expected one of {expected}"),
            }),
        }
    }
    if violations.is_empty() {
        Ok(converted)
    } else {
        Err(ProcessError::Validation(violations))
    }
}
