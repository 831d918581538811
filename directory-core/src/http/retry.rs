//! Retry with exponential backoff, jitter, a bounded number of attempts and a
//! total deadline. The server's own hint wins over computed backoff.

use std::time::{Duration, SystemTime};

use rand::Rng;

use super::client::HttpResponse;
use super::headers::parse_retry_after;

/// How often and how long to retry one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The first computed backoff; doubles each attempt.
    pub base_delay: Duration,
    /// The largest computed backoff.
    pub max_delay: Duration,
    /// The most time one request may take, all attempts and waits included.
    /// A wait that would cross it is not started.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            deadline: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The computed wait before attempt `attempt + 1` (attempt counts from 1):
    /// `base * 2^(attempt-1)`, capped, with "equal jitter" (half fixed, half
    /// random) so waits are never zero and clients spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }

    /// The wait for a server hint: the hint itself plus up to 10% (at most
    /// one second) of upward jitter, never less than the hint.
    pub fn hinted(&self, hint: Duration) -> Duration {
        let spread = (hint / 10).min(Duration::from_secs(1)).as_millis() as u64;
        hint + Duration::from_millis(rand::thread_rng().gen_range(0..=spread))
    }
}

/// What a response says about retrying. Each provider supplies one; the
/// default honours `Retry-After` on 429 and 5xx.
pub trait WaitHint: Send + Sync {
    /// Whether this response is worth another attempt.
    fn is_retryable(&self, resp: &HttpResponse) -> bool {
        matches!(resp.status, 408 | 429 | 500 | 502 | 503 | 504)
    }

    /// How long the server asked us to wait, if it said.
    fn wait(&self, resp: &HttpResponse) -> Option<Duration> {
        resp.header("retry-after")
            .and_then(|v| parse_retry_after(v, SystemTime::now()))
    }
}

/// The default [`WaitHint`]: standard `Retry-After`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryAfter;

impl WaitHint for RetryAfter {}
