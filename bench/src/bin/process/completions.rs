//! Following processes to COMPLETED from business-process's `NOTIFY process_changed`
//! (`<application id> <state>`, sent at commit), with a query of the table whenever the channel
//! stays silent, so a notification lost to a reconnect cannot stall the wait.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, postgres::PgListener};
use tokio::{sync::mpsc, time::Instant};
use uuid::Uuid;

const CHANNEL: &str = "process_changed";
const COMPLETED: &str = "COMPLETED";
/// After this long without a notification, the table is asked directly.
const SILENCE: Duration = Duration::from_secs(1);

/// A listener on `process_changed` and the completions it has seen.
pub struct Completions {
    listener: PgListener,
    pool: PgPool,
    /// When this process learnt that each application's process was COMPLETED.
    seen: HashMap<Uuid, DateTime<Utc>>,
    /// Completions found by querying the table, without their notification.
    found_by_query: usize,
}

/// What one wait saw.
pub struct Completed {
    /// Every application filed, in filing order.
    pub ids: Vec<Uuid>,
    /// When the last of them was seen COMPLETED.
    pub last_at: Instant,
}

impl Completions {
    /// Starts listening; call it before filing.
    pub async fn listen(pool: &PgPool) -> anyhow::Result<Self> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self {
            listener,
            pool: pool.clone(),
            seen: HashMap::new(),
            found_by_query: 0,
        })
    }

    /// When each application was seen COMPLETED through its notification.
    pub fn seen(&self) -> &HashMap<Uuid, DateTime<Utc>> {
        &self.seen
    }

    pub fn found_by_query(&self) -> usize {
        self.found_by_query
    }

    /// Waits until every application that arrives on `filed` (until it closes) is COMPLETED, or
    /// fails at `deadline`.
    pub async fn wait_for_all(
        &mut self,
        mut filed: mpsc::UnboundedReceiver<Vec<Uuid>>,
        deadline: Instant,
    ) -> anyhow::Result<Completed> {
        let mut ids = Vec::new();
        let mut pending = HashSet::new();
        let mut filing = true;
        let mut last_at = Instant::now();
        while filing || !pending.is_empty() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "out of time: {} of {} filed applications not COMPLETED{}",
                pending.len(),
                ids.len(),
                if filing { ", filing unfinished" } else { "" }
            );
            let wake = deadline.min(Instant::now() + SILENCE);
            tokio::select! {
                batch = filed.recv(), if filing => match batch {
                    Some(batch) => {
                        pending.extend(batch.iter().filter(|id| !self.seen.contains_key(id)));
                        ids.extend(batch);
                    }
                    None => filing = false,
                },
                notification = tokio::time::timeout_at(wake, self.listener.recv()) => {
                    match notification {
                        Ok(notification) => {
                            let notification = notification.context("lost the LISTEN connection")?;
                            if let Some(id) = completed_id(notification.payload()) {
                                self.seen.entry(id).or_insert_with(Utc::now);
                                if pending.remove(&id) {
                                    last_at = Instant::now();
                                }
                            }
                        }
                        Err(_silence) => {
                            if self.query_pending(&mut pending).await? {
                                last_at = Instant::now();
                            }
                        }
                    }
                }
            }
        }
        Ok(Completed { ids, last_at })
    }

    /// Drops from `pending` the processes the table shows COMPLETED; true when any was.
    async fn query_pending(&mut self, pending: &mut HashSet<Uuid>) -> anyhow::Result<bool> {
        if pending.is_empty() {
            return Ok(false);
        }
        let asked: Vec<Uuid> = pending.iter().copied().collect();
        let completed: Vec<Uuid> = sqlx::query_scalar(
            "SELECT application_id FROM processes WHERE state = $1 AND application_id = ANY($2)",
        )
        .bind(COMPLETED)
        .bind(&asked)
        .fetch_all(&self.pool)
        .await?;
        for id in &completed {
            pending.remove(id);
        }
        self.found_by_query += completed.len();
        Ok(!completed.is_empty())
    }
}

/// The application of a `<id> COMPLETED` payload.
fn completed_id(payload: &str) -> Option<Uuid> {
    let (id, state) = payload.split_once(' ')?;
    (state == COMPLETED).then(|| id.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_completions_are_read_from_payloads() {
        let id = Uuid::now_v7();
        assert_eq!(completed_id(&format!("{id} COMPLETED")), Some(id));
        assert_eq!(completed_id(&format!("{id} APPROVING")), None);
        assert_eq!(completed_id("not-a-uuid COMPLETED"), None);
        assert_eq!(completed_id(""), None);
    }
}
