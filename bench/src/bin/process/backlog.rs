//! Where work waits while the orchestrated phase runs: application events not yet taken by
//! business-process's consumer (ready in its queue), and processes whose next step waits for a
//! worker. Sampled twice a second; the peaks show which side sets the pace.

use std::time::Duration;

use lapin::{Channel, options::QueueDeclareOptions, types::FieldTable};
use sqlx::PgPool;
use zayavki_common::amqp::topology::BUSINESS_PROCESS_APPLICATION_EVENTS;

const EVERY: Duration = Duration::from_millis(500);

/// The largest backlogs seen.
#[derive(Clone, Copy, Debug, Default)]
pub struct Peaks {
    /// Messages ready in `business-process.application-events` (not counting the prefetch the
    /// consumer holds).
    pub events_ready: u32,
    /// Processes in STARTING or APPROVING: waiting for a worker or being stepped.
    pub processes_waiting: i64,
    pub samples: u32,
}

/// Samples until dropped, raising `peaks`; a failed sample is skipped.
pub async fn sample(channel: &Channel, pool: &PgPool, peaks: &mut Peaks) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let ready = channel
            .queue_declare(
                BUSINESS_PROCESS_APPLICATION_EVENTS.into(),
                passive,
                FieldTable::default(),
            )
            .await
            .map(|queue| queue.message_count());
        let waiting: Result<i64, _> = sqlx::query_scalar(
            "SELECT count(*) FROM processes WHERE state IN ('STARTING', 'APPROVING')",
        )
        .fetch_one(pool)
        .await;
        if let (Ok(ready), Ok(waiting)) = (ready, waiting) {
            peaks.events_ready = peaks.events_ready.max(ready);
            peaks.processes_waiting = peaks.processes_waiting.max(waiting);
            peaks.samples += 1;
        }
    }
}
