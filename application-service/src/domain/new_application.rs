//! What a caller files: raw input from any protocol, and its validated form.

use serde::Serialize;

use super::{
    item::Item,
    money::Money,
    text::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS, parse_multi_line, parse_single_line},
    validation::{FieldViolation, Violations},
};

pub const ITEMS_MAX: usize = 100;
pub const BATCH_MAX: usize = 1_000;

/// Raw input as a protocol adapter received it.
#[derive(Clone, Debug, Default)]
pub struct NewApplicationInput {
    pub title: String,
    pub description: Option<String>,
    pub items: Vec<NewItemInput>,
}

#[derive(Clone, Debug, Default)]
pub struct NewItemInput {
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
}

/// A valid application draft with its exact total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApplication {
    pub title: String,
    pub description: Option<String>,
    pub items: Vec<Item>,
    pub total_amount: Money,
}

/// The canonical form hashed for idempotency: two requests are "the same" when this matches.
#[derive(Serialize)]
struct Fingerprint<'a> {
    title: &'a str,
    description: Option<&'a str>,
    items: Vec<(&'a str, i64, i64)>,
}

impl NewApplication {
    pub fn parse(input: NewApplicationInput) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let title = violations.check("title", parse_single_line(&input.title, TITLE_MAX_CHARS));
        let description = violations.check(
            "description",
            parse_multi_line(input.description.as_deref(), DESCRIPTION_MAX_CHARS),
        );
        if input.items.len() > ITEMS_MAX {
            violations.add(
                "items",
                format!(
                    "must have at most {ITEMS_MAX} items (got {})",
                    input.items.len()
                ),
            );
        }
        let mut items = Vec::with_capacity(input.items.len());
        for (index, item) in input.items.iter().enumerate() {
            match Item::parse(&item.name, item.quantity, &item.unit_price) {
                Ok(item) => items.push(item),
                Err(nested) => violations.absorb(&format!("items[{index}]"), nested),
            }
        }
        let total_amount = if violations.is_empty() {
            let total = items.iter().try_fold(Money::ZERO, |total, item| {
                item.amount().and_then(|amount| total.plus(amount))
            });
            if total.is_none() {
                violations.add("items", "the total amount is too large");
            }
            total
        } else {
            None
        };
        match (title, description, total_amount) {
            (Some(title), Some(description), Some(total_amount)) if violations.is_empty() => {
                Ok(Self {
                    title,
                    description,
                    items,
                    total_amount,
                })
            }
            _ => Err(violations.into_vec()),
        }
    }

    /// Validates a batch, naming each wrong field as `applications[INDEX].FIELD`.
    pub fn parse_batch(inputs: Vec<NewApplicationInput>) -> Result<Vec<Self>, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        if inputs.is_empty() {
            violations.add("applications", "must contain at least one application");
        }
        if inputs.len() > BATCH_MAX {
            violations.add(
                "applications",
                format!(
                    "must contain at most {BATCH_MAX} applications (got {})",
                    inputs.len()
                ),
            );
            return Err(violations.into_vec());
        }
        let mut parsed = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            match Self::parse(input) {
                Ok(application) => parsed.push(application),
                Err(nested) => violations.absorb(&format!("applications[{index}]"), nested),
            }
        }
        violations.into_result(|| parsed)
    }

    /// Canonical JSON of the validated draft, for idempotency fingerprints.
    pub fn canonical_json(&self) -> String {
        let fingerprint = Fingerprint {
            title: &self.title,
            description: self.description.as_deref(),
            items: self
                .items
                .iter()
                .map(|item| (item.name.as_str(), item.quantity, item.unit_price.minor()))
                .collect(),
        };
        serde_json::to_string(&fingerprint).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, quantity: i64, unit_price: &str) -> NewItemInput {
        NewItemInput {
            name: name.to_owned(),
            quantity,
            unit_price: unit_price.to_owned(),
        }
    }

    #[test]
    fn computes_exact_total() {
        let parsed = NewApplication::parse(NewApplicationInput {
            title: "Посуда".to_owned(),
            description: None,
            items: vec![item("Ложки", 3, "0.10"), item("Вилки", 2, "12.5")],
        })
        .expect("valid");
        assert_eq!(parsed.total_amount.to_string(), "25.30");
    }

    #[test]
    fn names_every_wrong_field() {
        let errors = NewApplication::parse(NewApplicationInput {
            title: " ".to_owned(),
            description: Some("ok".to_owned()),
            items: vec![item("", 0, "1.234"), item("fine", 1, "1")],
        })
        .expect_err("invalid");
        let fields: Vec<_> = errors
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "title",
                "items[0].name",
                "items[0].quantity",
                "items[0].unit_price"
            ]
        );
    }

    #[test]
    fn batch_errors_carry_the_index() {
        let good = NewApplicationInput {
            title: "ok".to_owned(),
            ..Default::default()
        };
        let bad = NewApplicationInput::default();
        let errors =
            NewApplication::parse_batch(vec![good.clone(), bad, good]).expect_err("invalid");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "applications[1].title");
        assert!(NewApplication::parse_batch(vec![]).is_err());
    }
}
