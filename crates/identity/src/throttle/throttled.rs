//! A refused request, and how the refusal looks on gRPC and on REST.

use std::{fmt, time::Duration};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header::RETRY_AFTER};
use tonic::metadata::MetadataMap;
use zayavki_common::{ErrorCode, problem::Problem};

/// A refused request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// How long until the request would be allowed. When [`Self::exceeds_burst`], the time to
    /// refill a whole bucket, although the same request will never fit.
    pub retry_after: Duration,
    /// What the request would have cost.
    pub cost: u32,
    /// The bucket size.
    pub burst: u32,
}

impl Throttled {
    /// The request costs more than a full bucket: it must be split, waiting does not help.
    pub fn exceeds_burst(&self) -> bool {
        self.cost > self.burst
    }

    /// Whole seconds for `Retry-After`, at least 1.
    pub fn retry_after_seconds(&self) -> u64 {
        let seconds = self.retry_after.as_secs();
        let rounded_up = if self.retry_after.subsec_nanos() > 0 {
            seconds + 1
        } else {
            seconds
        };
        rounded_up.max(1)
    }

    pub fn code(&self) -> ErrorCode {
        ErrorCode::ResourceExhausted
    }

    /// `RESOURCE_EXHAUSTED` with a `retry-after` metadata entry in seconds.
    pub fn to_status(&self) -> tonic::Status {
        let mut metadata = MetadataMap::new();
        metadata.insert("retry-after", self.retry_after_seconds().into());
        tonic::Status::with_metadata(self.code().grpc_code(), self.to_string(), metadata)
    }

    /// 429 problem+json with a `Retry-After` header in seconds.
    pub fn to_problem(&self) -> Problem {
        Problem::new(self.code(), self.to_string())
            .with_header(RETRY_AFTER, HeaderValue::from(self.retry_after_seconds()))
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exceeds_burst() {
            write!(
                formatter,
                "this request costs {} units but at most {} can be spent at once; split it into smaller requests",
                self.cost, self.burst
            )
        } else {
            write!(
                formatter,
                "too many requests; retry in {} s",
                self.retry_after_seconds()
            )
        }
    }
}

impl std::error::Error for Throttled {}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}

impl From<Throttled> for tonic::Status {
    fn from(throttled: Throttled) -> Self {
        throttled.to_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        let throttled = |retry_after| Throttled {
            retry_after,
            cost: 1,
            burst: 1,
        };

        assert_eq!(
            throttled(Duration::from_millis(10)).retry_after_seconds(),
            1
        );
        assert_eq!(throttled(Duration::ZERO).retry_after_seconds(), 1);
        assert_eq!(
            throttled(Duration::from_millis(2001)).retry_after_seconds(),
            3
        );
        assert_eq!(throttled(Duration::from_secs(2)).retry_after_seconds(), 2);
    }
}
