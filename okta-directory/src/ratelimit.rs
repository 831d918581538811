//! Okta rate limits: what a 429 says about waiting, and a per-bucket budget
//! that keeps a share of every bucket free for the customer's other
//! integrations.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use directory_core::http::reqwest::RequestBuilder;
use directory_core::http::{server_now, HttpResponse, RateLimitHeaders, WaitHint};

/// The most a budget wait may last before looking again.
const MAX_BUDGET_WAIT: Duration = Duration::from_secs(61);

/// The rate-limit bucket a request path counts against (Okta's buckets are
/// per endpoint family).
pub fn bucket_of(path: &str) -> &'static str {
    let p = path.trim_end_matches('/');
    if p.starts_with("/oauth2/") {
        "token"
    } else if p == "/api/v1/users" {
        "users"
    } else if p.starts_with("/api/v1/users/") {
        "users/id"
    } else if p == "/api/v1/groups" {
        "groups"
    } else if p.starts_with("/api/v1/groups/") {
        "groups/id"
    } else if p == "/api/v1/logs" {
        "logs"
    } else if p.starts_with("/api/v1/apps") {
        "apps"
    } else {
        "other"
    }
}

/// Whether a 429 is Okta's concurrency limit: `Limit` and `Remaining` both 0.
pub(crate) fn is_concurrency_429(rl: &RateLimitHeaders) -> bool {
    rl.limit == Some(0) && rl.remaining == Some(0)
}

/// Okta's [`WaitHint`]: on a rate-limit 429, wait until `X-Rate-Limit-Reset`
/// measured against the server's `Date` (plus one second, as the date has
/// whole seconds); on a concurrency 429 (limit and remaining 0, reset only an
/// estimate) use the computed backoff; on 5xx honour `Retry-After`.
///
/// One hint serves one request: it remembers the `X-Okta-Request-Id` of the
/// last 429 so the retry can name it in `X-Okta-Retry-For`, with
/// `X-Okta-Retry-Count`, as Okta's SDKs do.
#[derive(Debug, Default)]
pub(crate) struct OktaWaitHint {
    retry: Mutex<(u32, Option<String>)>,
}

impl WaitHint for OktaWaitHint {
    /// A retry after a 429 names it: `X-Okta-Retry-For` (its request id)
    /// and `X-Okta-Retry-Count`.
    fn mark_retry(&self, req: RequestBuilder) -> RequestBuilder {
        let r = self.retry.lock().unwrap_or_else(|p| p.into_inner());
        match &r.1 {
            Some(id) => req
                .header("x-okta-retry-for", id.as_str())
                .header("x-okta-retry-count", r.0.to_string()),
            None => req,
        }
    }

    fn wait(&self, resp: &HttpResponse) -> Option<Duration> {
        if resp.status == 429 {
            let mut r = self.retry.lock().unwrap_or_else(|p| p.into_inner());
            r.0 = r.0.saturating_add(1);
            r.1 = resp
                .header("x-okta-request-id")
                .map(str::to_string)
                .or(r.1.take());
        }
        if resp.status != 429 {
            return resp
                .header("retry-after")
                .and_then(|v| directory_core::http::parse_retry_after(v, SystemTime::now()));
        }
        rate_limit_wait(resp)
    }
}

/// The wait a rate-limit 429 asks for; `None` for a concurrency 429 or when
/// the headers are missing.
pub(crate) fn rate_limit_wait(resp: &HttpResponse) -> Option<Duration> {
    let rl = RateLimitHeaders::parse(&resp.headers);
    if is_concurrency_429(&rl) {
        tracing::debug!("concurrency 429: backing off instead of waiting for the reset");
        return None;
    }
    rl.wait_until_reset(server_now(&resp.headers))
        .map(|w| w.saturating_add(Duration::from_secs(1)))
}

struct Bucket {
    limit: u64,
    remaining: u64,
    reset_at: Instant,
}

/// Keeps `reserve` of every bucket free: once a bucket's remaining calls fall
/// to the reserved share, requests wait for its reset.
pub(crate) struct Budget {
    reserve: f64,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
}

impl Budget {
    pub(crate) fn new(reserve: f64) -> Self {
        Self {
            reserve,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `bucket` has calls above the reserve, then counts one.
    pub(crate) async fn acquire(&self, bucket: &'static str) {
        while let Some(wait) = self.reserve_wait(bucket) {
            let wait = wait.min(MAX_BUDGET_WAIT);
            tracing::info!(
                bucket,
                wait_ms = wait.as_millis() as u64,
                "rate-limit bucket down to its reserved share; waiting for the reset"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn reserve_wait(&self, bucket: &'static str) -> Option<Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.get_mut(bucket)?;
        let now = Instant::now();
        if now >= b.reset_at {
            map.remove(bucket);
            return None;
        }
        let floor = (b.limit as f64 * self.reserve).ceil() as u64;
        if b.remaining > floor {
            b.remaining -= 1;
            None
        } else {
            Some(b.reset_at.saturating_duration_since(now))
        }
    }

    /// Records what a response's `X-Rate-Limit-*` headers say.
    pub(crate) fn observe(&self, bucket: &'static str, resp: &HttpResponse) {
        let rl = RateLimitHeaders::parse(&resp.headers);
        if is_concurrency_429(&rl) {
            return;
        }
        let (Some(limit), Some(remaining)) = (rl.limit, rl.remaining) else {
            return;
        };
        let Some(wait) = rl.wait_until_reset(server_now(&resp.headers)) else {
            return;
        };
        if wait > MAX_BUDGET_WAIT {
            // Okta's windows are one minute: a reset further away is not a
            // window this budget can wait out, so the headers are not used
            // (a 429 with such a reset still ends in a RateLimited error
            // through the retry deadline).
            tracing::warn!(
                bucket,
                reset_in_s = wait.as_secs(),
                "X-Rate-Limit-Reset is further away than a rate-limit window; ignored"
            );
            return;
        }
        let now = Instant::now();
        let Some(reset_at) = now.checked_add(wait.saturating_add(Duration::from_secs(1))) else {
            return;
        };
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            bucket,
            Bucket {
                limit,
                remaining,
                reset_at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory_core::http::reqwest::header::HeaderMap;

    fn resp(status: u16, headers: &[(&'static str, String)]) -> HttpResponse {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        HttpResponse {
            status,
            headers: h,
            body: Default::default(),
        }
    }

    fn date_plus(reset_in: u64) -> Vec<(&'static str, String)> {
        let now = SystemTime::now();
        let reset = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + reset_in;
        vec![
            ("date", httpdate::fmt_http_date(now)),
            ("x-rate-limit-limit", "100".into()),
            ("x-rate-limit-remaining", "0".into()),
            ("x-rate-limit-reset", reset.to_string()),
        ]
    }

    #[test]
    fn buckets_follow_okta_families() {
        assert_eq!(bucket_of("/api/v1/users"), "users");
        assert_eq!(bucket_of("/api/v1/groups"), "groups");
        assert_eq!(bucket_of("/api/v1/groups/00g1/users"), "groups/id");
        assert_eq!(bucket_of("/api/v1/apps/0oa1/users"), "apps");
        assert_eq!(bucket_of("/oauth2/v1/token"), "token");
    }

    #[test]
    fn rate_limit_429_waits_for_the_reset_by_the_server_clock() {
        let w = OktaWaitHint::default()
            .wait(&resp(429, &date_plus(10)))
            .unwrap();
        assert!(
            w >= Duration::from_secs(10) && w <= Duration::from_secs(12),
            "{w:?}"
        );
    }

    #[test]
    fn concurrency_429_is_told_apart() {
        let mut h = date_plus(100);
        h[1].1 = "0".into();
        assert_eq!(OktaWaitHint::default().wait(&resp(429, &h)), None);
        assert!(OktaWaitHint::default().is_retryable(&resp(429, &h)));
    }

    #[test]
    fn a_reset_beyond_a_window_is_not_waited_for() {
        let budget = Budget::new(0.2);
        // Remaining 0, reset ten years away.
        budget.observe("users", &resp(200, &date_plus(10 * 365 * 24 * 3600)));
        assert_eq!(budget.reserve_wait("users"), None);
    }

    /// Issue 13: the largest reset a server can send, against the oldest
    /// `Date` it can send: a capped wait, never an overflow.
    #[test]
    fn the_largest_reset_is_a_capped_wait() {
        let h = vec![
            ("date", "Thu, 01 Jan 1970 00:00:00 GMT".to_string()),
            ("x-rate-limit-limit", "100".into()),
            ("x-rate-limit-remaining", "0".into()),
            ("x-rate-limit-reset", u64::MAX.to_string()),
        ];
        let w = OktaWaitHint::default().wait(&resp(429, &h)).unwrap();
        assert!(w <= directory_core::http::MAX_SERVER_WAIT + Duration::from_secs(1));
        let budget = Budget::new(0.2);
        budget.observe("users", &resp(200, &h));
        assert_eq!(budget.reserve_wait("users"), None);
    }

    #[test]
    fn budget_keeps_the_reserve_free() {
        let budget = Budget::new(0.5);
        let mut h = date_plus(30);
        h[2].1 = "51".into();
        budget.observe("users", &resp(200, &h));
        assert_eq!(budget.reserve_wait("users"), None);
        let wait = budget.reserve_wait("users").unwrap();
        assert!(wait > Duration::from_secs(25), "{wait:?}");
        assert_eq!(budget.reserve_wait("groups"), None);
    }
}
