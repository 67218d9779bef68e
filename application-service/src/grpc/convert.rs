//! Protobuf ↔ domain conversions.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use zayavki_proto::applications::v1 as pb;

use crate::{
    domain::{
        Application, ApplicationError, ApplicationStatus, FieldViolation, NewApplicationInput,
        NewItemInput,
    },
    service::ListQuery,
};

pub fn application(application: Application) -> pb::Application {
    pb::Application {
        id: application.id.to_string(),
        applicant: application.applicant,
        title: application.title,
        description: application.description,
        items: application
            .items
            .into_iter()
            .map(|item| pb::ApplicationItem {
                name: item.name,
                quantity: i32::try_from(item.quantity).unwrap_or(i32::MAX),
                unit_price: item.unit_price.to_string(),
            })
            .collect(),
        total_amount: application.total_amount.to_string(),
        status: status(application.status) as i32,
        applied_at: Some(timestamp(application.applied_at)),
        updated_at: Some(timestamp(application.updated_at)),
        cancel_reason: application.cancel_reason,
        cancelled_at: application.cancelled_at.map(timestamp),
        version: application.version,
        rejection_reason: application.rejection_reason,
    }
}

pub fn new_application(draft: pb::NewApplication) -> NewApplicationInput {
    NewApplicationInput {
        title: draft.title,
        description: draft.description,
        items: draft
            .items
            .into_iter()
            .map(|item| NewItemInput {
                name: item.name,
                quantity: i64::from(item.quantity),
                unit_price: item.unit_price,
            })
            .collect(),
    }
}

pub fn status(status: ApplicationStatus) -> pb::ApplicationStatus {
    match status {
        ApplicationStatus::New => pb::ApplicationStatus::New,
        ApplicationStatus::Processing => pb::ApplicationStatus::Processing,
        ApplicationStatus::Completed => pb::ApplicationStatus::Completed,
        ApplicationStatus::Cancelled => pb::ApplicationStatus::Cancelled,
        ApplicationStatus::Rejected => pb::ApplicationStatus::Rejected,
    }
}

/// Status filter values; UNSPECIFIED and unknown numbers are named as wrong.
pub fn statuses(values: &[i32], field: &str) -> Result<Vec<ApplicationStatus>, ApplicationError> {
    let mut violations = Vec::new();
    let mut parsed = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        match pb::ApplicationStatus::try_from(*value) {
            Ok(pb::ApplicationStatus::New) => parsed.push(ApplicationStatus::New),
            Ok(pb::ApplicationStatus::Processing) => parsed.push(ApplicationStatus::Processing),
            Ok(pb::ApplicationStatus::Completed) => parsed.push(ApplicationStatus::Completed),
            Ok(pb::ApplicationStatus::Cancelled) => parsed.push(ApplicationStatus::Cancelled),
            Ok(pb::ApplicationStatus::Rejected) => parsed.push(ApplicationStatus::Rejected),
            Ok(pb::ApplicationStatus::Unspecified) | Err(_) => violations.push(FieldViolation::new(
                format!("{field}[{index}]"),
                format!("{value} is not a status; expected one of APPLICATION_STATUS_NEW, APPLICATION_STATUS_PROCESSING, APPLICATION_STATUS_COMPLETED, APPLICATION_STATUS_CANCELLED, APPLICATION_STATUS_REJECTED"),
            )),
        }
    }
    if violations.is_empty() {
        Ok(parsed)
    } else {
        Err(ApplicationError::Validation(violations))
    }
}

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The listing filters shared by `ListApplications` and `SearchApplications`.
pub fn list_query(
    applied_from: String,
    applied_to: String,
    status: &[i32],
    page_size: i32,
    page_token: String,
) -> Result<ListQuery, ApplicationError> {
    Ok(ListQuery {
        applied_from: optional(applied_from),
        applied_to: optional(applied_to),
        statuses: statuses(status, "status")?,
        page_size: Some(i64::from(page_size)),
        page_token: optional(page_token),
    })
}

/// Empty strings mean "not given" in proto3.
pub fn optional(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}
