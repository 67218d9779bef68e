//! Reading processes: one with its whole history, or a listing by state one page at a time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;
use zayavki_common::{
    money::Money,
    page_token::{self, Cursor, FilterFingerprint, FingerprintBuilder},
};

use super::{Caller, ProcessView, Processes, full_view, input::Violations, parse_application_id};
use crate::{
    domain::{Month, ProcessError, ProcessState},
    storage::{
        budgets::Reservation,
        processes::{self, ListCursor},
    },
};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 1_000;

/// A listing request as the adapter receives it.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Any of these states; all when empty.
    pub states: Vec<ProcessState>,
    /// 0 means the default.
    pub page_size: i64,
    /// Empty means the first page.
    pub page_token: String,
}

/// One page of a listing; `next_page_token` is None on the last page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

impl Processes {
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn get(
        &self,
        caller: &Caller,
        application_id: &str,
    ) -> Result<ProcessView, ProcessError> {
        caller.require_any_role()?;
        let application_id = parse_application_id(application_id)?;
        // One snapshot, so the history and the reservation belong to the state shown.
        let mut transaction = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *transaction)
            .await?;
        let process = processes::find(&mut *transaction, application_id)
            .await?
            .filter(|process| caller.may_see(&process.applicant))
            .ok_or_else(|| ProcessError::NotFound(format!("process {application_id}")))?;
        let view = full_view(&mut transaction, process).await?;
        transaction.commit().await?;
        Ok(view)
    }

    /// Oldest first by (created_at, application_id); applicants see only their own.
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListQuery,
    ) -> Result<Page<ProcessView>, ProcessError> {
        caller.require_any_role()?;
        let visible_applicant = caller.visible_applicant();
        let fingerprint = listing_fingerprint(visible_applicant, &query.states);
        let mut violations = Violations::new();
        let page_size = violations.check("page_size", parse_page_size(query.page_size));
        let after = match query.page_token.trim() {
            "" => Some(None),
            token => violations
                .check(
                    "page_token",
                    page_token::decode::<PageCursor>(token, fingerprint)
                        .map_err(|refused| refused.to_string()),
                )
                .map(|cursor| Some(cursor.0)),
        };
        let (page_size, after) = violations.into_result(|| page_size.zip(after))?;
        let mut connection = self.pool.acquire().await?;
        let mut rows = processes::list(
            &mut *connection,
            &query.states,
            visible_applicant,
            after,
            page_size + 1,
        )
        .await?;
        let next_page_token = if rows.len() > usize::try_from(page_size).unwrap_or(usize::MAX) {
            rows.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
            rows.last().map(|last| {
                let cursor = PageCursor(ListCursor {
                    created_at: last.created_at,
                    application_id: last.application_id,
                });
                page_token::encode(&cursor, fingerprint)
            })
        } else {
            None
        };
        let ids: Vec<Uuid> = rows.iter().map(|process| process.application_id).collect();
        let mut reservations = reservations_of(&mut *connection, &ids).await?;
        let items = rows
            .into_iter()
            .map(|process| ProcessView {
                reservation: reservations.remove(&process.application_id),
                process,
                steps: Vec::new(),
            })
            .collect();
        Ok(Page {
            items,
            next_page_token,
        })
    }
}

fn parse_page_size(raw: i64) -> Result<i64, String> {
    match raw {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(size),
        size => Err(format!(
            "must be between 1 and {MAX_PAGE_SIZE} (got {size})"
        )),
    }
}

/// What decides which processes a listing contains: whose the caller sees (`None`: everyone's)
/// and the states.
fn listing_fingerprint(
    visible_applicant: Option<&str>,
    states: &[ProcessState],
) -> FilterFingerprint {
    FingerprintBuilder::new()
        .optional_text(visible_applicant)
        .text_set(states.iter().map(|state| state.as_str()))
        .finish()
}

/// The last process of a page in the listing order.
struct PageCursor(ListCursor);

impl Cursor for PageCursor {
    const ENCODED_LEN: usize = 8 + 16;

    fn encode_into(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.0.created_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.0.application_id.as_bytes());
    }

    fn decode_from(bytes: &[u8]) -> Option<Self> {
        let (micros, id) = bytes.split_first_chunk::<8>()?;
        Some(PageCursor(ListCursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(i64::from_be_bytes(*micros))?,
            application_id: Uuid::from_slice(id).ok()?,
        }))
    }
}

/// The reservations of a page of processes, in one statement.
async fn reservations_of<'e>(
    executor: impl PgExecutor<'e>,
    application_ids: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, Reservation>> {
    if application_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64, chrono::NaiveDate, String)> = sqlx::query_as(
        "SELECT application_id, amount_minor, month, state FROM reservations \
         WHERE application_id = ANY($1)",
    )
    .bind(application_ids)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(application_id, amount, month, state)| {
            let reservation = Reservation {
                amount: Money::from_minor(amount).unwrap_or(Money::ZERO),
                month: Month::from_first_day(month),
                state,
            };
            (application_id, reservation)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use zayavki_common::page_token::PageTokenError;

    use super::*;

    #[test]
    fn page_tokens_round_trip_and_belong_to_their_filters() {
        let cursor = PageCursor(ListCursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).expect("valid"),
            application_id: Uuid::now_v7(),
        });
        let waiting = listing_fingerprint(None, &[ProcessState::AwaitingDecision]);
        let token = page_token::encode(&cursor, waiting);
        let decoded = page_token::decode::<PageCursor>(&token, waiting).expect("decodes");
        assert_eq!(decoded.0.created_at, cursor.0.created_at);
        assert_eq!(decoded.0.application_id, cursor.0.application_id);
        for other in [
            listing_fingerprint(None, &[]),
            listing_fingerprint(Some("alice"), &[ProcessState::AwaitingDecision]),
            listing_fingerprint(None, &[ProcessState::Completed]),
        ] {
            assert_eq!(
                page_token::decode::<PageCursor>(&token, other).err(),
                Some(PageTokenError::OtherFilters)
            );
        }
    }

    #[test]
    fn page_sizes() {
        assert_eq!(parse_page_size(0), Ok(50));
        assert_eq!(parse_page_size(1_000), Ok(1_000));
        assert!(parse_page_size(1_001).is_err());
        assert!(parse_page_size(-1).is_err());
    }
}
