//! The JSON shapes of `openapi/application-openapi.yml`: lowerCamelCase, money as strings,
//! timestamps as RFC 3339 UTC, every property of an application present (null when empty).
//! Request bodies refuse properties the document does not describe.

use chrono::{DateTime, SecondsFormat, Utc};
use std::{fmt, marker::PhantomData};

use serde::{Deserialize, Deserializer, Serialize, de};
use uuid::Uuid;

use crate::{
    domain::{Application, DayStats, Item, NewApplicationInput, NewItemInput},
    service::{Page, SearchResult},
};

/// A JSON object read into `T`. Serde also lets a struct be written as an array of its fields
/// in order; the document allows objects only.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// `NewApplication`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApplicationBody {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub items: Vec<Object<NewItemBody>>,
}

/// `ApplicationItem` as a request writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewItemBody {
    pub name: String,
    #[serde(deserialize_with = "json_integer")]
    pub quantity: i64,
    pub unit_price: String,
}

/// `BatchCreateRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCreateBody {
    pub applications: Vec<Object<NewApplicationBody>>,
}

/// `CancelRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    pub reason: Option<String>,
}

impl From<NewApplicationBody> for NewApplicationInput {
    fn from(body: NewApplicationBody) -> Self {
        Self {
            title: body.title,
            description: body.description,
            items: body
                .items
                .into_iter()
                .map(|Object(item)| NewItemInput {
                    name: item.name,
                    quantity: item.quantity,
                    unit_price: item.unit_price,
                })
                .collect(),
        }
    }
}

/// `Application`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationBody {
    pub id: Uuid,
    pub applicant: String,
    pub title: String,
    pub description: Option<String>,
    pub items: Vec<ItemBody>,
    pub total_amount: String,
    pub status: &'static str,
    pub applied_at: String,
    pub updated_at: String,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<String>,
    pub rejection_reason: Option<String>,
    pub version: i64,
}

/// `ApplicationItem` as a response writes it: the price always with two fraction digits.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
}

impl From<Application> for ApplicationBody {
    fn from(application: Application) -> Self {
        Self {
            id: application.id,
            applicant: application.applicant,
            title: application.title,
            description: application.description,
            items: application.items.into_iter().map(ItemBody::from).collect(),
            total_amount: application.total_amount.to_string(),
            status: application.status.as_str(),
            applied_at: timestamp(application.applied_at),
            updated_at: timestamp(application.updated_at),
            cancel_reason: application.cancel_reason,
            cancelled_at: application.cancelled_at.map(timestamp),
            rejection_reason: application.rejection_reason,
            version: application.version,
        }
    }
}

impl From<Item> for ItemBody {
    fn from(item: Item) -> Self {
        Self {
            name: item.name,
            quantity: item.quantity,
            unit_price: item.unit_price.to_string(),
        }
    }
}

/// `ApplicationList`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationListBody {
    pub items: Vec<ApplicationBody>,
    pub next_page_token: Option<String>,
}

impl From<Page<Application>> for ApplicationListBody {
    fn from(page: Page<Application>) -> Self {
        Self {
            items: page.items.into_iter().map(ApplicationBody::from).collect(),
            next_page_token: page.next_page_token,
        }
    }
}

/// `BatchCreateResponse`.
#[derive(Debug, Serialize)]
pub struct BatchCreatedBody {
    pub items: Vec<ApplicationBody>,
}

/// `SearchHit`.
#[derive(Debug, Serialize)]
pub struct SearchHitBody {
    pub application: ApplicationBody,
    pub score: f32,
    pub snippet: String,
}

/// `SearchResults`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResultsBody {
    pub items: Vec<SearchHitBody>,
    pub next_page_token: Option<String>,
}

impl From<Page<SearchResult>> for SearchResultsBody {
    fn from(page: Page<SearchResult>) -> Self {
        Self {
            items: page
                .items
                .into_iter()
                .map(|hit| SearchHitBody {
                    application: hit.application.into(),
                    // JSON has no NaN or infinity; a score is never negative.
                    score: if hit.score.is_finite() {
                        hit.score.max(0.0)
                    } else {
                        0.0
                    },
                    snippet: hit.snippet,
                })
                .collect(),
            next_page_token: page.next_page_token,
        }
    }
}

/// `ApplicationDayStats`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayStatsBody {
    pub day: String,
    pub status: &'static str,
    pub count: u64,
    pub total_amount: String,
}

impl From<DayStats> for DayStatsBody {
    fn from(stats: DayStats) -> Self {
        Self {
            day: stats.day.format("%Y-%m-%d").to_string(),
            status: stats.status.as_str(),
            count: stats.count,
            total_amount: stats.total_amount.to_string(),
        }
    }
}

/// A JSON integer. JSON (and JSON Schema) do not tell `3` from `3.0`, so an integral number
/// written with a fraction is accepted too; the domain checks the range.
fn json_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct IntegerVisitor;

    impl de::Visitor<'_> for IntegerVisitor {
        type Value = i64;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an integer")
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<i64, E> {
            Ok(value)
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<i64, E> {
            i64::try_from(value)
                .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<i64, E> {
            // Every integral f64 within ±2^63 converts exactly.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
                Ok(value as i64)
            } else {
                Err(E::invalid_value(de::Unexpected::Float(value), &self))
            }
        }
    }

    deserializer.deserialize_any(IntegerVisitor)
}

/// RFC 3339 in UTC with a `Z`, with as many fraction digits as the value has.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_json_integers_however_written() {
        let parse = |quantity: &str| {
            serde_json::from_str::<NewItemBody>(&format!(
                r#"{{"name": "a", "quantity": {quantity}, "unitPrice": "1"}}"#
            ))
            .map(|item| item.quantity)
        };
        assert_eq!(parse("3").ok(), Some(3));
        assert_eq!(parse("3.0").ok(), Some(3));
        assert_eq!(parse("-2").ok(), Some(-2));
        assert!(parse("3.5").is_err());
        assert!(parse("\"3\"").is_err());
        assert!(parse("1e300").is_err());
        assert!(parse("18446744073709551615").is_err());
    }

    #[test]
    fn timestamps_are_utc_with_z() {
        let at = DateTime::parse_from_rfc3339("2025-03-14T12:26:53.589+03:00")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(timestamp(at), "2025-03-14T09:26:53.589Z");
    }
}
