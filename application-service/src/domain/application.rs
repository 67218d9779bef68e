//! A filed application as stored and returned.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{item::Item, money::Money, status::ApplicationStatus};

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

/// Parses an application id, with the message both protocols return for a malformed one.
pub fn parse_id(raw: &str) -> Result<Uuid, String> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| format!("{raw:?} is not a valid application id (a UUID)"))
}
