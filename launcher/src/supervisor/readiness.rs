//! Whether a service is ready: its readiness URL answers with a success status.

use std::time::Duration;

use tokio::time::Instant;

const FIRST_INTERVAL: Duration = Duration::from_millis(100);
const LONGEST_INTERVAL: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `url` until it answers 2xx, for at most `patience`, more rarely the longer it takes.
/// Answers whether it did.
pub async fn wait_until_ready(client: &reqwest::Client, url: &str, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let mut interval = FIRST_INTERVAL;
    loop {
        let answered = client.get(url).timeout(REQUEST_TIMEOUT).send().await;
        if answered.is_ok_and(|response| response.status().is_success()) {
            return true;
        }
        if Instant::now() + interval >= deadline {
            return false;
        }
        tokio::time::sleep(interval).await;
        interval = interval.saturating_mul(2).min(LONGEST_INTERVAL);
    }
}
