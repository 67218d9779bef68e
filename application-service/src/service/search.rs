//! Full-text search over the caller's visible applications.

use zayavki_search::{SearchError, SearchRequest};

use super::{
    Applications, ListQuery, Page,
    query::{parse_list, require_role},
};
use crate::{
    domain::{Application, ApplicationError, Caller},
    storage,
};

/// A search request as any adapter receives it: the text plus the listing filters.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub text: String,
    pub filters: ListQuery,
}

/// One ranked hit.
#[derive(Clone, Debug)]
pub struct SearchResult {
    pub application: Application,
    /// BM25 relevance; higher is better.
    pub score: f32,
    /// Where it matched, matches wrapped in `<b>…</b>`, everything else HTML-escaped.
    pub snippet: String,
}

impl Applications {
    /// Ranked hits among the applications the caller may see, read back from PostgreSQL so
    /// every hit shows the application as it is now.
    #[tracing::instrument(skip(self), fields(caller = %caller.subject))]
    pub async fn search(
        &self,
        caller: &Caller,
        query: SearchQuery,
    ) -> Result<Page<SearchResult>, ApplicationError> {
        require_role(caller)?;
        if query.text.trim().is_empty() {
            return Err(ApplicationError::invalid(
                "q",
                "must contain at least one word",
            ));
        }
        let page_token = query
            .filters
            .page_token
            .clone()
            .filter(|token| !token.is_empty());
        let filters = ListQuery {
            page_token: None,
            ..query.filters
        };
        let parsed = parse_list(caller, &filters)?;
        let request = SearchRequest {
            query: query.text,
            statuses: parsed
                .filter
                .statuses
                .iter()
                .map(|status| status.as_str().to_owned())
                .collect(),
            applied_from: parsed.filter.applied.from,
            applied_before: parsed.filter.applied.before,
            applicant: caller.visible_applicant().map(str::to_owned),
            page_size: parsed.page_size.0 as usize,
            page_token,
        };
        // The hits are read back from PostgreSQL while the index builds their snippets.
        let index = self.search_index.clone();
        let (ranked, ranked_ids) = tokio::sync::oneshot::channel();
        let searching = tokio::task::spawn_blocking(move || {
            index.search_announcing_hits(&request, |ids| drop(ranked.send(ids)))
        });
        let read_back = async {
            // No ids: the search failed, and says why below.
            let Ok(ids) = ranked_ids.await else {
                return Ok(Vec::new());
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            // The hits are matched to the ranking by id below, so the rows may come in any
            // order.
            let rows = storage::applications::find_rows(&self.pool, &ids).await?;
            let applications = rows
                .into_iter()
                .map(Application::try_from)
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok::<_, ApplicationError>(applications)
        };
        let (page, applications) = tokio::join!(searching, read_back);
        let page = page.map_err(|task_failed| ApplicationError::Internal(task_failed.into()))??;
        let applications = applications?;
        let mut by_id: std::collections::HashMap<_, _> = applications
            .into_iter()
            .map(|application| (application.id, application))
            .collect();
        let items = page
            .hits
            .into_iter()
            .filter_map(|hit| {
                let application = by_id.remove(&hit.id)?;
                caller
                    .may_see(&application.applicant)
                    .then_some(SearchResult {
                        application,
                        score: hit.score,
                        snippet: hit.snippet,
                    })
            })
            .collect();
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }
}

/// What the index refuses, named by the request field at fault.
impl From<SearchError> for ApplicationError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Internal(source) => Self::Internal(source),
            SearchError::InvalidPageToken(reason) => Self::invalid("page_token", reason),
            // `parse_list` admits only the sizes the index accepts, so this refusal is a bug.
            refused @ SearchError::InvalidPageSize(_) => Self::Internal(refused.into()),
            SearchError::InvalidQuery(reason) => {
                // The index names the parameter itself ("q must …"); the violation already does.
                let reason = reason.strip_prefix("q ").unwrap_or(&reason).to_owned();
                Self::invalid("q", reason)
            }
        }
    }
}
