//! Decision deadlines: a durable timer per application waiting for an operator. The loop fires
//! every due timer once (claimed with `FOR UPDATE SKIP LOCKED` and marked fired in the same
//! transaction that rejects its process), sleeps until the earliest pending one or until a timer
//! is set (`NOTIFY timers`), and after a restart fires whatever fell due while it was down.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::ProcessState,
    storage::{processes, steps, timers},
};

const BATCH: i64 = 100;
const IDLE_CHECK: Duration = Duration::from_secs(60);

pub async fn run(pool: PgPool, mut timers_set: watch::Receiver<u64>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        timers_set.mark_unchanged();
        let wait = match fire_due(&pool).await {
            Ok(fired) if fired == BATCH as usize => continue,
            Ok(_) => match timers::next_due(&pool).await {
                Ok(Some(at)) => (at - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(IDLE_CHECK),
                _ => IDLE_CHECK,
            },
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "deadlines cannot reach the database");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = timers_set.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Fires the due timers: a process still waiting for a decision is rejected.
pub async fn fire_due(pool: &PgPool) -> anyhow::Result<usize> {
    let mut transaction = pool.begin().await?;
    let due = timers::fire_due(&mut transaction, BATCH).await?;
    let mut rejected = 0;
    for application_id in &due {
        let Some(mut process) = processes::lock(&mut transaction, *application_id).await? else {
            continue;
        };
        if process.state != ProcessState::AwaitingDecision {
            continue;
        }
        steps::record(
            &mut transaction,
            *application_id,
            "decision.deadline_passed",
            json!({"dueAt": process.decision_due_at}),
        )
        .await?;
        process.move_to(
            ProcessState::Rejecting,
            Some("no decision was made before the deadline".to_owned()),
        );
        processes::save(&mut transaction, &process).await?;
        rejected += 1;
        tracing::info!(application = %application_id, "decision deadline passed");
    }
    if rejected > 0 {
        processes::announce_work(&mut transaction).await?;
    }
    transaction.commit().await?;
    Ok(due.len())
}
