//! One line of an application: what, how many, at what unit price.

use serde::{Deserialize, Serialize};

use super::{
    money::Money,
    text::{ITEM_NAME_MAX_CHARS, parse_single_line},
    validation::{FieldViolation, Violations},
};

pub const QUANTITY_MAX: i64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
}

/// An item as stored in the `items` JSONB column: the price as an exact decimal string.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredItem {
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
}

impl Item {
    pub fn parse(name: &str, quantity: i64, unit_price: &str) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let name = violations.check("name", parse_single_line(name, ITEM_NAME_MAX_CHARS));
        let quantity = violations.check("quantity", parse_quantity(quantity));
        let unit_price = violations.check("unit_price", Money::parse_unit_price(unit_price));
        match (name, quantity, unit_price) {
            (Some(name), Some(quantity), Some(unit_price)) if violations.is_empty() => Ok(Self {
                name,
                quantity,
                unit_price,
            }),
            _ => Err(violations.into_vec()),
        }
    }

    /// quantity × unit price, or None when it does not fit.
    pub fn amount(&self) -> Option<Money> {
        self.unit_price.times(self.quantity)
    }

    pub fn to_stored(&self) -> StoredItem {
        StoredItem {
            name: self.name.clone(),
            quantity: self.quantity,
            unit_price: self.unit_price.to_string(),
        }
    }

    /// Reads back what [`Item::to_stored`] wrote.
    pub fn from_stored(stored: StoredItem) -> anyhow::Result<Self> {
        let unit_price = Money::parse_unit_price(&stored.unit_price).map_err(|reason| {
            anyhow::anyhow!("stored unit price {:?} {reason}", stored.unit_price)
        })?;
        Ok(Self {
            name: stored.name,
            quantity: stored.quantity,
            unit_price,
        })
    }
}

fn parse_quantity(quantity: i64) -> Result<i64, String> {
    if quantity < 1 {
        Err(format!("must be at least 1 (got {quantity})"))
    } else if quantity > QUANTITY_MAX {
        Err(format!("must be at most {QUANTITY_MAX} (got {quantity})"))
    } else {
        Ok(quantity)
    }
}
