//! A filed application as stored and returned.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{item::Item, money::Money, new_application::NewApplication, status::ApplicationStatus};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    pub id: Uuid,
    pub applicant: String,
    pub title: String,
    pub description: Option<String>,
    pub items: Vec<Item>,
    pub total_amount: Money,
    pub status: ApplicationStatus,
    pub applied_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub version: i64,
}

impl Application {
    /// A new application filed by `applicant` at `filed_at`: status NEW, version 1.
    pub fn filed(applicant: &str, draft: NewApplication, filed_at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            applicant: applicant.to_owned(),
            title: draft.title,
            description: draft.description,
            items: draft.items,
            total_amount: draft.total_amount,
            status: ApplicationStatus::New,
            applied_at: filed_at,
            updated_at: filed_at,
            cancel_reason: None,
            cancelled_at: None,
            rejection_reason: None,
            version: 1,
        }
    }
}

/// Parses an application id, with the message both protocols return for a malformed one.
pub fn parse_id(raw: &str) -> Result<Uuid, String> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| format!("{raw:?} is not a valid application id (a UUID)"))
}
