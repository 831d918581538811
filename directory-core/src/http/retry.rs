//! Retry with exponential backoff, jitter, a bounded number of attempts and a
//! total deadline. The server's own hint wins over computed backoff.

use std::time::{Duration, SystemTime};

use rand::Rng;

use super::client::HttpResponse;
use super::headers::parse_retry_after;
use crate::error::{Error, Result};

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
        let most = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = rand::thread_rng().gen_range(0..=most);
        half.saturating_add(Duration::from_millis(jitter))
    }

    /// The wait for a server hint: the hint itself plus up to 10% (at most
    /// one second) of upward jitter, never less than the hint. A hint past
    /// the deadline is the deadline: a wait that long is never started, and
    /// no sum with it can overflow, whatever number the server sent.
    pub fn hinted(&self, hint: Duration) -> Duration {
        let hint = hint.min(self.deadline);
        let spread = (hint / 10).min(Duration::from_secs(1)).as_millis();
        let spread = u64::try_from(spread).unwrap_or(1000);
        hint.saturating_add(Duration::from_millis(
            rand::thread_rng().gen_range(0..=spread),
        ))
    }

    /// The most attempts [`RetryPolicy::validate`] accepts.
    pub const MAX_ATTEMPTS: u32 = 100;

    /// The longest deadline (and backoff) [`RetryPolicy::validate`] accepts.
    pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

    /// Checks the policy is usable: 1 to [`Self::MAX_ATTEMPTS`] attempts, a
    /// deadline of at most [`Self::MAX_DEADLINE`] and a backoff no longer
    /// than it. `field` names the setting in the error.
    pub fn validate(&self, field: &str) -> Result<()> {
        if !(1..=Self::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(Error::config(
                field,
                format!(
                    "max_attempts is {}; it must be between 1 and {}",
                    self.max_attempts,
                    Self::MAX_ATTEMPTS
                ),
            ));
        }
        let limit = Self::MAX_DEADLINE;
        for (name, value) in [
            ("deadline", self.deadline),
            ("max_delay", self.max_delay),
            ("base_delay", self.base_delay),
        ] {
            if value > limit {
                return Err(Error::config(
                    field,
                    format!("{name} is {value:?}; it must be at most {limit:?}"),
                ));
            }
        }
        Ok(())
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

    /// Headers an attempt carries after what this hint saw of the earlier
    /// attempts of the same request (Okta's `X-Okta-Retry-For`); the
    /// authorized path ([`super::AuthorizedClient`]) adds them to every
    /// attempt. The default adds none.
    fn mark_retry(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req
    }
}

/// The default [`WaitHint`]: standard `Retry-After`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryAfter;

impl WaitHint for RetryAfter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_past_the_deadline_is_the_deadline() {
        let p = RetryPolicy::default();
        for hint in [Duration::MAX, Duration::from_secs(u64::MAX), p.deadline * 2] {
            let w = p.hinted(hint);
            assert!(
                w >= p.deadline && w <= p.deadline + Duration::from_secs(1),
                "{w:?}"
            );
        }
        let short = p.hinted(Duration::from_secs(2));
        assert!(short >= Duration::from_secs(2), "{short:?}");
    }

    #[test]
    fn backoff_never_overflows() {
        let p = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..RetryPolicy::default()
        };
        for attempt in [0, 1, 2, 30, u32::MAX] {
            let _ = p.backoff(attempt);
        }
    }

    #[test]
    fn validate_names_the_field_and_the_range() {
        assert!(RetryPolicy::default().validate("retry").is_ok());
        assert!(RetryPolicy::none().validate("retry").is_ok());
        let bad = [
            RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            },
            RetryPolicy {
                max_attempts: u32::MAX,
                ..RetryPolicy::default()
            },
            RetryPolicy {
                deadline: Duration::MAX,
                ..RetryPolicy::default()
            },
            RetryPolicy {
                max_delay: Duration::from_secs(u64::MAX),
                ..RetryPolicy::default()
            },
            RetryPolicy {
                base_delay: Duration::MAX,
                ..RetryPolicy::default()
            },
        ];
        for p in bad {
            let e = p.validate("retry").expect_err("refused");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidConfig);
            assert!(e.message().starts_with("retry: "), "{e}");
            assert!(e.message().contains("must be"), "{e}");
        }
    }
}
