//! One exported application as the report files show it: exact amounts, UTC times.

use chrono::{DateTime, Utc};
use zayavki_common::money::Money;
use zayavki_proto::applications::v1::{Application, ApplicationStatus};

use crate::domain::status_name;

/// An item of an application with its amount (quantity × unit price).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemLine {
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
}

/// One application, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRow {
    pub id: String,
    pub applicant: String,
    pub title: String,
    pub description: Option<String>,
    pub status: &'static str,
    pub applied_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub items: Vec<ItemLine>,
    pub total_amount: Money,
}

impl ApplicationRow {
    /// Reads an exported application; an error names what application-service sent wrong.
    pub fn from_export(application: Application) -> Result<Self, String> {
        let status = ApplicationStatus::try_from(application.status)
            .map(status_name)
            .map_err(|_| format!("application {} has an unknown status", application.id))?;
        let money = |raw: &str, what: &str| {
            Money::parse_amount(raw)
                .map_err(|reason| format!("application {} {what} {raw:?} {reason}", application.id))
        };
        let total_amount = money(&application.total_amount, "total")?;
        let items = application
            .items
            .iter()
            .map(|item| {
                let unit_price = money(&item.unit_price, "unit price")?;
                let quantity = i64::from(item.quantity);
                let amount = unit_price.times(quantity).ok_or_else(|| {
                    format!(
                        "application {} has an item too large to sum",
                        application.id
                    )
                })?;
                Ok(ItemLine {
                    name: item.name.clone(),
                    quantity,
                    unit_price,
                    amount,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let time = |at: Option<prost_types::Timestamp>, what: &str| {
            at.and_then(|at| DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?))
                .ok_or_else(|| format!("application {} has no {what}", application.id))
        };
        Ok(Self {
            applied_at: time(application.applied_at, "filing time")?,
            updated_at: time(application.updated_at, "update time")?,
            id: application.id,
            applicant: application.applicant,
            title: application.title,
            description: application.description,
            status,
            items,
            total_amount,
        })
    }
}

/// Sums past what `Money` holds (a million applications at the largest totals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Total(i128);

impl Total {
    pub fn add(&mut self, amount: Money) {
        self.0 += i128::from(amount.minor());
    }

    /// Exact, two fraction digits: `1234.50`.
    pub fn to_decimal_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }

    /// For spreadsheet cells (shown with two decimals).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

/// For spreadsheet cells (shown with two decimals).
pub fn money_f64(amount: Money) -> f64 {
    amount.minor() as f64 / 100.0
}

/// ISO 8601 in UTC with microseconds, as applications are stored: `2026-03-01T09:30:00.123456Z`.
pub fn iso_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
