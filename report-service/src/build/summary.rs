//! The totals of a summary report, gathered in the one pass that writes its rows. Memory is
//! bounded: one entry per status and per day, and at most [`MAX_ITEM_NAMES`] item names.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::rows::{ApplicationRow, Total};

/// Distinct item names counted for the top list; names first seen after that many are left
/// out of it (the totals still count their applications).
pub const MAX_ITEM_NAMES: usize = 100_000;
/// Item names the summary lists.
pub const TOP_ITEMS: usize = 10;
/// The order statuses are listed in.
const STATUS_ORDER: [&str; 5] = ["NEW", "PROCESSING", "COMPLETED", "CANCELLED", "REJECTED"];

/// Applications counted and their amounts summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub applications: u64,
    pub total: Total,
}

impl Tally {
    fn add(&mut self, row: &ApplicationRow) {
        self.applications += 1;
        self.total.add(row.total_amount);
    }
}

/// One item name over every application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemTally {
    pub name: String,
    pub quantity: i64,
    pub total: Total,
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub overall: Tally,
    by_status: HashMap<&'static str, Tally>,
    pub by_day: BTreeMap<NaiveDate, Tally>,
    items: HashMap<String, ItemTally>,
    /// Item names left out of the top list because too many distinct names were seen.
    pub untracked_item_names: bool,
}

impl Summary {
    pub fn add(&mut self, row: &ApplicationRow) {
        self.overall.add(row);
        self.by_status.entry(row.status).or_default().add(row);
        self.by_day
            .entry(row.applied_at.date_naive())
            .or_default()
            .add(row);
        for item in &row.items {
            if !self.items.contains_key(&item.name) {
                if self.items.len() >= MAX_ITEM_NAMES {
                    self.untracked_item_names = true;
                    continue;
                }
                self.items.insert(
                    item.name.clone(),
                    ItemTally {
                        name: item.name.clone(),
                        ..ItemTally::default()
                    },
                );
            }
            if let Some(tally) = self.items.get_mut(&item.name) {
                tally.quantity = tally.quantity.saturating_add(item.quantity);
                tally.total.add(item.amount);
            }
        }
    }

    /// Statuses that occur, in lifecycle order.
    pub fn by_status(&self) -> Vec<(&'static str, Tally)> {
        STATUS_ORDER
            .iter()
            .filter_map(|status| self.by_status.get(status).map(|tally| (*status, *tally)))
            .collect()
    }

    /// The item names with the largest amounts, largest first (ties by name).
    pub fn top_items(&self) -> Vec<&ItemTally> {
        let mut items: Vec<&ItemTally> = self.items.values().collect();
        items.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
        items.truncate(TOP_ITEMS);
        items
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use zayavki_common::money::Money;

    use super::*;
    use crate::build::rows::ItemLine;

    fn row(status: &'static str, day: u32, items: &[(&str, i64, i64)]) -> ApplicationRow {
        let items: Vec<ItemLine> = items
            .iter()
            .map(|(name, quantity, price)| ItemLine {
                name: (*name).to_owned(),
                quantity: *quantity,
                unit_price: Money::from_minor(*price).expect("money"),
                amount: Money::from_minor(price * quantity).expect("money"),
            })
            .collect();
        let total = items.iter().map(|item| item.amount.minor()).sum();
        let at = Utc
            .with_ymd_and_hms(2026, 3, day, 23, 59, 59)
            .single()
            .expect("a time");
        ApplicationRow {
            id: uuid::Uuid::now_v7().to_string(),
            applicant: "anna".to_owned(),
            title: "Заявка".to_owned(),
            description: None,
            status,
            applied_at: at,
            updated_at: at,
            items,
            total_amount: Money::from_minor(total).expect("money"),
        }
    }

    #[test]
    fn totals_by_status_day_and_item_are_exact() {
        let mut summary = Summary::default();
        summary.add(&row(
            "COMPLETED",
            1,
            &[("Бумага", 2, 12_550), ("Ручки", 10, 15)],
        ));
        summary.add(&row("NEW", 1, &[("Бумага", 1, 12_550)]));
        summary.add(&row("COMPLETED", 2, &[]));

        assert_eq!(summary.overall.applications, 3);
        assert_eq!(summary.overall.total.to_decimal_string(), "378.00");
        let statuses: Vec<(&str, u64, String)> = summary
            .by_status()
            .into_iter()
            .map(|(status, tally)| (status, tally.applications, tally.total.to_decimal_string()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("NEW", 1, "125.50".to_owned()),
                ("COMPLETED", 2, "252.50".to_owned())
            ]
        );
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).expect("a day");
        assert_eq!(summary.by_day[&first].applications, 2);
        let top: Vec<(&str, i64, String)> = summary
            .top_items()
            .into_iter()
            .map(|item| {
                (
                    item.name.as_str(),
                    item.quantity,
                    item.total.to_decimal_string(),
                )
            })
            .collect();
        assert_eq!(
            top,
            [
                ("Бумага", 3, "376.50".to_owned()),
                ("Ручки", 10, "1.50".to_owned())
            ]
        );
    }
}
