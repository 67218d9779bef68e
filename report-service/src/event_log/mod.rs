//! The durable event log browsers are pushed from: report events appended in the transaction
//! that changes the report, application status changes appended once each.
//!
//! - `append`: writing an event, on the caller's transaction;
//! - `store`: reading the log in its order, (xid, id), only as far as it is *settled* (no
//!   running transaction can still add a row before it; the reasoning is in that module), and
//!   pruning its oldest rows;
//! - `cursor`: positions in that order, and the opaque ids clients see;
//! - `follower` → `feed`: each replica follows the settled log and fans it out to its own
//!   connections;
//! - `pruning`: dropping rows past the retention;
//! - `application_events`: the consumer of `report-service.application-events`.

pub mod append;
pub mod application_events;
pub mod cursor;
pub mod feed;
pub mod follower;
pub mod pruning;
pub mod settings;
pub mod store;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zayavki_common::amqp::{ConsumerSettings, run_consumer};

pub use append::{LogEvent, append};
pub use cursor::{Cursor, MalformedCursor};
pub use feed::{LogFeed, Subscription};
pub use follower::{Follower, FollowerStats};
pub use settings::EventLogSettings;
pub use store::{Audience, LogEntry};

/// Starts the log's work on this replica, each until `shutdown`: following it into `feed`,
/// pruning it, and appending application status changes consumed with `consumer`.
pub fn spawn_tasks(
    background: &mut JoinSet<()>,
    pool: &PgPool,
    feed: Arc<LogFeed>,
    settings: &EventLogSettings,
    consumer: ConsumerSettings,
    shutdown: &CancellationToken,
) {
    let follower = Follower::new(pool.clone(), feed, settings.clone());
    background.spawn(follower.run(shutdown.clone()));
    background.spawn(pruning::run_pruning(
        pool.clone(),
        settings.clone(),
        shutdown.clone(),
    ));
    background.spawn(run_consumer(
        consumer,
        application_events::ApplicationEventHandler::new(pool.clone()),
        shutdown.clone(),
    ));
}
