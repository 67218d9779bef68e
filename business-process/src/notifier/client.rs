//! The one client of the outside notification service. Everything that protects us from that
//! service being slow or down is here:
//!
//! - **Timeout**: each attempt (connecting, sending, reading the answer) has `timeout`; no answer
//!   in time is a failure.
//! - **Retries**: up to `retry.attempts` attempts per notification, with exponential backoff and
//!   full jitter (each wait is drawn uniformly between zero and the exponential delay), so
//!   replicas that failed together do not retry together.
//! - **Circuit breaker** ([`super::breaker`]): every attempt asks it first. While it is open the
//!   call fails at once with [`SendError::BreakerOpen`], without retrying: the service is not
//!   called, and nobody waits for it.
//!
//! How answers count (`POST {url}/notifications`, JSON `{id, recipient, subject, body,
//! applicationId}`, `id` being the idempotency key):
//! - 2xx: accepted.
//! - 5xx, 408, 429, a timeout or a connection error: the service is unwell. Retried, and a
//!   failure for the breaker.
//! - Any other 4xx: the service is up and refuses *this* notification; sending it again would be
//!   refused again. Not retried, [`SendError::Refused`], and a success for the breaker: a service
//!   that answers is not down, and one malformed notification must not stop all the others.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use uuid::Uuid;

use super::{
    FAILURES_TOTAL,
    breaker::{CircuitBreaker, Rejected},
};
use crate::storage::notifications::NewNotification;

/// The longest part of a refusal's body kept for `last_error`.
const REFUSAL_DETAIL_CHARS: usize = 300;

/// How often and how soon a notification is sent again within one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts per call, the first included (at least 1).
    pub attempts: usize,
    /// The exponential delay starts here...
    pub min_delay: Duration,
    /// ...and stops growing here; each wait is drawn between zero and it.
    pub max_delay: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            attempts: 3,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// Why a notification was not accepted.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SendError {
    #[error("the notification service is considered down (circuit breaker {})", .0.state)]
    BreakerOpen(Rejected),
    #[error("the notification service refused the notification: {status} {detail}")]
    Refused { status: StatusCode, detail: String },
    #[error("the notification service did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("cannot reach the notification service: {0}")]
    Connection(String),
    #[error("the notification service answered {0}")]
    Unavailable(StatusCode),
}

impl SendError {
    /// The service may accept the same notification later.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Refused { .. })
    }

    fn worth_retrying_now(&self) -> bool {
        matches!(
            self,
            Self::TimedOut(_) | Self::Connection(_) | Self::Unavailable(_)
        )
    }

    /// The `reason` label of `zayavki_notifier_failures_total`.
    fn reason(&self) -> &'static str {
        match self {
            Self::BreakerOpen(_) => "breaker_open",
            Self::Refused { .. } => "refused",
            Self::TimedOut(_) => "timeout",
            Self::Connection(_) => "connection",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// The body the service expects.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationBody<'a> {
    id: Uuid,
    recipient: &'a str,
    subject: &'a str,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_id: Option<Uuid>,
}

impl<'a> From<&'a NewNotification> for NotificationBody<'a> {
    fn from(notification: &'a NewNotification) -> Self {
        Self {
            id: notification.id,
            recipient: &notification.recipient,
            subject: &notification.subject,
            body: &notification.body,
            application_id: notification.application_id,
        }
    }
}

pub struct NotifierClient {
    http: reqwest::Client,
    endpoint: Url,
    timeout: Duration,
    retry: RetrySettings,
    breaker: CircuitBreaker,
}

impl NotifierClient {
    /// `base_url` is where the service lives; notifications go to `{base_url}/notifications`.
    pub fn new(
        base_url: &Url,
        timeout: Duration,
        retry: RetrySettings,
        breaker: CircuitBreaker,
    ) -> anyhow::Result<Self> {
        let endpoint = format!("{}/notifications", base_url.as_str().trim_end_matches('/'))
            .parse()
            .map_err(|error| {
                anyhow::anyhow!("the notification service URL is not valid: {error}")
            })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "zayavki-business-process/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self {
            http,
            endpoint,
            timeout,
            retry,
            breaker,
        })
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// Sends one notification, retrying what may pass on a second try.
    ///
    /// `BreakerOpen` means the service was not called at all. When calls were made and failed
    /// and the breaker then stopped the retries, the last call's failure is returned: the
    /// notification was tried.
    #[tracing::instrument(skip_all, fields(notification_id = %notification.id))]
    pub async fn send(&self, notification: &NewNotification) -> Result<(), SendError> {
        let body = NotificationBody::from(notification);
        let last_call_failure = std::sync::Mutex::new(None);
        let outcome = (|| async {
            let outcome = self.attempt(&body).await;
            if let Err(error) = &outcome
                && !matches!(error, SendError::BreakerOpen(_))
            {
                *last_call_failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.clone());
            }
            outcome
        })
        .retry(self.backoff())
        .sleep(tokio::time::sleep)
        .when(SendError::worth_retrying_now)
        .notify(|error, delay| {
            tracing::debug!(error = %error, retry_in = ?delay, "notification attempt failed");
        })
        .await;
        match outcome {
            Err(SendError::BreakerOpen(rejected)) => Err(last_call_failure
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or(SendError::BreakerOpen(rejected))),
            outcome => outcome,
        }
    }

    fn backoff(&self) -> impl backon::Backoff + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.attempts.saturating_sub(1))
            .build()
            .map(full_jitter as fn(Duration) -> Duration)
    }

    async fn attempt(&self, body: &NotificationBody<'_>) -> Result<(), SendError> {
        let permit = self.breaker.try_acquire().map_err(SendError::BreakerOpen)?;
        let outcome = match tokio::time::timeout(self.timeout, self.post(body)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(SendError::TimedOut(self.timeout)),
        };
        match &outcome {
            Ok(()) | Err(SendError::Refused { .. }) => permit.succeeded(),
            Err(_) => permit.failed(),
        }
        if let Err(error) = &outcome {
            metrics::counter!(FAILURES_TOTAL, "reason" => error.reason()).increment(1);
        }
        outcome
    }

    async fn post(&self, body: &NotificationBody<'_>) -> Result<(), SendError> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .json(body)
            .send()
            .await
            .map_err(|error| SendError::Connection(error_chain(&error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let refuses_this_notification = status.is_client_error()
            && status != StatusCode::REQUEST_TIMEOUT
            && status != StatusCode::TOO_MANY_REQUESTS;
        if !refuses_this_notification {
            return Err(SendError::Unavailable(status));
        }
        let detail = response.text().await.unwrap_or_default();
        Err(SendError::Refused {
            status,
            detail: detail.chars().take(REFUSAL_DETAIL_CHARS).collect(),
        })
    }
}

impl std::fmt::Debug for NotifierClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NotifierClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker.state())
            .finish()
    }
}

/// Full jitter: anywhere between no wait and the whole exponential delay.
fn full_jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::random::<f64>())
}

/// reqwest's top-level message ("error sending request") hides the cause ("connection
/// refused"); the chain names it.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
