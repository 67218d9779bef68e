//! A migrated database of its own for each test of the log.

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use zayavki_common::database::{DatabaseSettings, prepare};
use zayavki_testkit::TestDatabase;

use super::{LogEvent, append};
use crate::storage::MIGRATOR;

/// Keep the database until the end of the test: dropping it drops the database.
pub struct MigratedDatabase {
    pub pool: PgPool,
    _database: TestDatabase,
}

pub async fn migrated_database() -> MigratedDatabase {
    let database = TestDatabase::fresh();
    let pool = prepare(&DatabaseSettings::new(database.url()), &MIGRATOR)
        .await
        .expect("a migrated test database");
    MigratedDatabase {
        pool,
        _database: database,
    }
}

/// Appends a `report.progress` of `owner` numbered `number`, on `connection`.
pub async fn append_numbered(connection: &mut PgConnection, owner: &str, number: u32) {
    let appended = append(
        connection,
        &LogEvent {
            message_id: Uuid::new_v4(),
            owner: owner.to_owned(),
            kind: "report.progress".to_owned(),
            body: json!({"number": number}),
        },
    )
    .await
    .expect("appended");
    assert!(appended);
}
