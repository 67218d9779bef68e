//! Reading applications: one by id, or a filtered listing one page at a time.

use zayavki_common::page_token::{self, FilterFingerprint};

use super::Applications;
use crate::{
    domain::{
        Application, ApplicationError, ApplicationStatus, AppliedRange, Caller, ListFilter,
        PageSize,
        application::parse_id,
        page_token::{PageCursor, listing_fingerprint},
        validation::Violations,
    },
    storage,
};

/// A listing request as any adapter receives it.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub applied_from: Option<String>,
    pub applied_to: Option<String>,
    pub statuses: Vec<ApplicationStatus>,
    pub page_size: Option<i64>,
    pub page_token: Option<String>,
}

/// One page of results; `next_page_token` is None on the last page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// A validated listing request.
pub(super) struct ParsedList {
    pub filter: ListFilter,
    pub page_size: PageSize,
    pub cursor: Option<PageCursor>,
    pub fingerprint: FilterFingerprint,
}

impl Applications {
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Application, ApplicationError> {
        require_role(caller)?;
        let id = parse_id(id).map_err(|reason| ApplicationError::invalid("id", reason))?;
        match self.reads.find(id).await? {
            Some(application) if caller.may_see(&application.applicant) => Ok(application),
            _ => Err(ApplicationError::NotFound(id.to_string())),
        }
    }

    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListQuery,
    ) -> Result<Page<Application>, ApplicationError> {
        require_role(caller)?;
        let parsed = parse_list(caller, &query)?;
        let limit = parsed.page_size.0;
        let mut connection = self.pool.acquire().await?;
        let mut rows = storage::applications::list(
            &mut connection,
            &parsed.filter,
            caller.visible_applicant(),
            parsed.cursor,
            limit + 1,
        )
        .await?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|last| {
                let cursor = PageCursor {
                    applied_at: last.applied_at,
                    id: last.id,
                };
                page_token::encode(&cursor, parsed.fingerprint)
            })
        } else {
            None
        };
        Ok(Page {
            items: rows,
            next_page_token,
        })
    }
}

pub(super) fn require_role(caller: &Caller) -> Result<(), ApplicationError> {
    if caller.has_any_role() {
        Ok(())
    } else {
        Err(ApplicationError::no_role())
    }
}

/// Validates the filters shared by listing and search, and the page token of a listing.
pub(super) fn parse_list(
    caller: &Caller,
    query: &ListQuery,
) -> Result<ParsedList, ApplicationError> {
    let mut violations = Violations::new();
    let filter = parse_filter(
        query.applied_from.as_deref(),
        query.applied_to.as_deref(),
        &query.statuses,
        &mut violations,
    );
    let page_size = violations.check("page_size", PageSize::parse(query.page_size));
    let fingerprint = listing_fingerprint(caller.visible_applicant(), &filter);
    let cursor = match query
        .page_token
        .as_deref()
        .filter(|token| !token.is_empty())
    {
        None => None,
        Some(token) => violations.check(
            "page_token",
            page_token::decode(token, fingerprint).map_err(|refused| refused.to_string()),
        ),
    };
    match page_size {
        Some(page_size) if violations.is_empty() => Ok(ParsedList {
            filter,
            page_size,
            cursor,
            fingerprint,
        }),
        _ => Err(ApplicationError::Validation(violations.into_vec())),
    }
}

/// The filing-date window and the statuses that listings, searches and exports filter by; a
/// malformed window is named in `violations` and left open.
pub(super) fn parse_filter(
    applied_from: Option<&str>,
    applied_to: Option<&str>,
    statuses: &[ApplicationStatus],
    violations: &mut Violations,
) -> ListFilter {
    let applied = AppliedRange::parse(applied_from, applied_to).unwrap_or_else(|nested| {
        for violation in nested {
            violations.add(violation.field, violation.description);
        }
        AppliedRange::default()
    });
    let mut statuses = statuses.to_vec();
    statuses.sort();
    statuses.dedup();
    ListFilter { applied, statuses }
}
