//! PostgreSQL: the migrations, and every statement the service runs on its own tables.

pub mod claims;
pub mod report_events;
pub mod reports;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
