//! PostgreSQL: the migrations, and every statement the service runs.

pub mod application_rows;
pub mod applications;
pub mod binary_copy;
pub mod coalesced_reads;
pub mod day_stats;
pub mod export;
pub mod idempotency;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
