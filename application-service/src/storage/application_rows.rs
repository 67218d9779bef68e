//! Mapping between the `applications` table and the domain type.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{Application, Item, Money, item::StoredItem};

/// The columns every read selects, in [`ApplicationRow`] order.
pub const COLUMNS: &str = "id, applicant, title, description, items, total_amount_minor, status, \
     applied_at, updated_at, cancel_reason, cancelled_at, rejection_reason, version";

#[derive(Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub applicant: String,
    pub title: String,
    pub description: Option<String>,
    pub items: Json<Vec<StoredItem>>,
    pub total_amount_minor: i64,
    pub status: String,
    pub applied_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub version: i64,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = anyhow::Error;

    fn try_from(row: ApplicationRow) -> anyhow::Result<Self> {
        let items = row
            .items
            .0
            .into_iter()
            .map(Item::from_stored)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Application {
            id: row.id,
            applicant: row.applicant,
            title: row.title,
            description: row.description,
            items,
            total_amount: Money::from_minor(row.total_amount_minor)
                .ok_or_else(|| anyhow::anyhow!("negative total amount in row {}", row.id))?,
            status: row.status.parse().map_err(anyhow::Error::msg)?,
            applied_at: row.applied_at,
            updated_at: row.updated_at,
            cancel_reason: row.cancel_reason,
            cancelled_at: row.cancelled_at,
            rejection_reason: row.rejection_reason,
            version: row.version,
        })
    }
}
