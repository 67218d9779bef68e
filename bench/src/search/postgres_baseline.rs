//! PostgreSQL's own full-text search over the same rows: a stored `tsvector` column over the
//! title, description and item names with a GIN index, queried with `plainto_tsquery` /
//! `phraseto_tsquery` and ranked with `ts_rank`.
//!
//! A stored column rather than an expression index: ranking needs the vector of every match,
//! and an expression index would recompute it from the text for each one, which would make
//! the baseline needlessly slow.

use std::time::{Duration, Instant};

use anyhow::Context;
use application_service::{
    domain::Application,
    storage::application_rows::{ApplicationRow, COLUMNS},
};
use sqlx::{Executor, PgPool};

use super::queries::QueryKind;

/// Memory for building the GIN index; PostgreSQL's default (64 MB) makes the build spill.
const INDEX_BUILD_MEMORY: &str = "512MB";
/// Hits per query, as the benchmark's `page_size`.
pub const LIMIT: usize = 20;

/// How long building the baseline took.
#[derive(Clone, Copy, Debug)]
pub struct BaselineBuild {
    /// Adding the generated column: every row's vector computed and the table rewritten.
    pub column: Duration,
    pub index: Duration,
}

/// Adds the `search_vector` column and its GIN index to `applications`, then analyses it.
pub async fn build(pool: &PgPool) -> anyhow::Result<BaselineBuild> {
    let mut connection = pool.acquire().await?;
    connection
        .execute(format!("SET maintenance_work_mem = '{INDEX_BUILD_MEMORY}'").as_str())
        .await?;
    let started = Instant::now();
    connection
        .execute(
            "ALTER TABLE applications ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (\
               to_tsvector('russian', title || ' ' || coalesce(description, '') || ' ' \
                 || jsonb_path_query_array(items, '$[*].name')::text)\
             ) STORED",
        )
        .await
        .context("cannot add the tsvector column")?;
    let column = started.elapsed();
    let started = Instant::now();
    connection
        .execute(
            "CREATE INDEX applications_search_vector ON applications USING GIN (search_vector)",
        )
        .await
        .context("cannot build the GIN index")?;
    let index = started.elapsed();
    connection.execute("VACUUM (ANALYZE) applications").await?;
    Ok(BaselineBuild { column, index })
}

/// The statement for `kind`, restricted to one applicant when `for_applicant`.
pub fn statement(kind: QueryKind, for_applicant: bool) -> String {
    let parse = match kind {
        QueryKind::OneWord | QueryKind::TwoWords => "plainto_tsquery",
        QueryKind::Phrase => "phraseto_tsquery",
    };
    let owner = if for_applicant {
        " AND applicant = $2"
    } else {
        ""
    };
    format!(
        "SELECT {COLUMNS} FROM applications, {parse}('russian', $1) AS query \
         WHERE search_vector @@ query{owner} \
         ORDER BY ts_rank(search_vector, query) DESC LIMIT {LIMIT}"
    )
}

/// The best [`LIMIT`] applications for `text` (quotes around a phrase are dropped, the
/// statement already makes it a phrase), as the service would return them.
pub async fn search(
    pool: &PgPool,
    statement: &str,
    text: &str,
    applicant: Option<&str>,
) -> anyhow::Result<Vec<Application>> {
    let mut query = sqlx::query_as::<_, ApplicationRow>(statement).bind(text.trim_matches('"'));
    if let Some(applicant) = applicant {
        query = query.bind(applicant);
    }
    let rows = query.fetch_all(pool).await?;
    rows.into_iter().map(Application::try_from).collect()
}
