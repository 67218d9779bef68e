//! PostgreSQL: the migrations, and every statement the service runs.

pub mod budgets;
pub mod deferred;
pub mod inbox;
pub mod notifications;
pub mod processes;
pub mod reports;
pub mod steps;
pub mod timers;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
