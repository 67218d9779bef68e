//! The export's statements: a count and a streamed read of the same selection. Run both in one
//! REPEATABLE READ transaction and they describe the same snapshot.

use sqlx::{PgConnection, Postgres, QueryBuilder};
use tokio_stream::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    application_rows::{ApplicationRow, COLUMNS},
    applications::push_filter,
};
use crate::domain::{Application, ListFilter};

/// The order rows are exported in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExportOrder {
    /// By id (the primary key).
    #[default]
    Id,
    /// By filing time, oldest first, ties by id.
    AppliedAt,
}

/// Which applications an export reads.
#[derive(Clone, Debug, Default)]
pub struct ExportSelection {
    pub filter: ListFilter,
    pub applicant: Option<String>,
    /// Only these ids, when given.
    pub ids: Option<Vec<Uuid>>,
    pub order: ExportOrder,
}

/// Both statements of one selection; each can be run once.
pub struct ExportStatements {
    count: QueryBuilder<'static, Postgres>,
    rows: QueryBuilder<'static, Postgres>,
}

impl ExportStatements {
    pub fn new(selection: &ExportSelection) -> Self {
        let mut count = QueryBuilder::new("SELECT count(*) FROM applications WHERE TRUE");
        push_conditions(&mut count, selection);
        let mut rows = QueryBuilder::new(format!("SELECT {COLUMNS} FROM applications WHERE TRUE"));
        push_conditions(&mut rows, selection);
        rows.push(match selection.order {
            ExportOrder::Id => " ORDER BY id",
            ExportOrder::AppliedAt => " ORDER BY applied_at, id",
        });
        Self { count, rows }
    }

    /// How many rows [`ExportStatements::rows`] yields in the same snapshot.
    #[tracing::instrument(skip_all)]
    pub async fn count(&mut self, connection: &mut PgConnection) -> Result<u64, sqlx::Error> {
        let total: i64 = self
            .count
            .build_query_scalar()
            .fetch_one(connection)
            .await?;
        Ok(u64::try_from(total).unwrap_or_default())
    }

    /// The rows in order, read from the connection as the stream is polled: an unpolled stream
    /// leaves the rest of the result in PostgreSQL and the socket, not in memory.
    pub fn rows<'s>(
        &'s mut self,
        connection: &'s mut PgConnection,
    ) -> impl Stream<Item = anyhow::Result<Application>> + Send + 's {
        self.rows
            .build_query_as::<ApplicationRow>()
            .fetch(connection)
            .map(|row| Application::try_from(row?))
    }
}

fn push_conditions(query: &mut QueryBuilder<'static, Postgres>, selection: &ExportSelection) {
    push_filter(query, &selection.filter, selection.applicant.as_deref());
    if let Some(ids) = &selection.ids {
        query
            .push(" AND id = ANY(")
            .push_bind(ids.clone())
            .push(")");
    }
}
