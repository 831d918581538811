//! Graph's resource units: what a request costs, and an optional client-side
//! budget that paces requests so the tenant's limit is never crossed.
//!
//! Graph's identity service charges each request in resource units (RU) and
//! throttles an app per tenant at 3,500, 5,000 or 8,000 RU per 10 seconds
//! (small, medium, large tenants). Honouring `Retry-After` recovers from a
//! 429; pacing avoids it.

use std::time::Duration;

use tokio::sync::Mutex;
// tokio's clock (the system's monotonic clock unless a test pauses it), so
// the pacing is measured on the same clock its sleeps run on.
use tokio::time::Instant;

/// The resource-unit cost of a Graph GET, as the throttling docs define it:
/// a base cost per resource (`users` 2, `members` 3, `transitiveMembers` 5,
/// others 1), `$select` -1, `$top` under 20 -1, at least 1.
pub fn resource_units(path: &str, query: &str) -> u32 {
    let base: i32 = if path.ends_with("/transitiveMembers") {
        5
    } else if path.ends_with("/members") {
        3
    } else if path.ends_with("/v1.0/users")
        || path.ends_with("/appRoleAssignments")
        || path.ends_with("/v1.0/applications")
    {
        2
    } else {
        1
    };
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    };
    let select = i32::from(param("$select").or_else(|| param("%24select")).is_some());
    let small_top = param("$top")
        .or_else(|| param("%24top"))
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|t| t < 20);
    (base - select - i32::from(small_top)).max(1) as u32
}

/// A client-side token bucket of resource units. Callers reserve their cost
/// (the level may go below zero) and wait until the reservation is covered,
/// so concurrent callers queue fairly without holding the lock while waiting.
#[derive(Debug)]
pub(crate) struct Budget {
    state: Mutex<(f64, Instant)>,
    cap: f64,
    per_sec: f64,
    window: Duration,
}

impl Budget {
    pub fn new(units: u32, window: Duration) -> Self {
        let cap = f64::from(units.max(1));
        Self {
            state: Mutex::new((cap, Instant::now())),
            cap,
            per_sec: cap / window.as_secs_f64().max(0.001),
            window,
        }
    }

    /// Waits until `cost` units are available, and takes them.
    pub async fn pace(&self, cost: u32) {
        let wait = {
            let mut s = self.state.lock().await;
            let now = Instant::now();
            let level = (s.0 + now.duration_since(s.1).as_secs_f64() * self.per_sec).min(self.cap)
                - f64::from(cost);
            *s = (level, now);
            if level >= 0.0 {
                return;
            }
            // At most the time to refill the bucket from empty, for any level.
            Duration::try_from_secs_f64(-level / self.per_sec).unwrap_or(self.window)
        };
        tracing::debug!(
            wait_ms = wait.as_millis() as u64,
            cost,
            "pacing to stay within the resource-unit budget"
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_docs() {
        assert_eq!(resource_units("/v1.0/users", "$select=id&$top=999"), 1);
        assert_eq!(resource_units("/v1.0/users", "$top=999"), 2);
        assert_eq!(
            resource_units("/v1.0/groups/x/members", "$select=id&$top=999"),
            2
        );
        assert_eq!(
            resource_units("/v1.0/groups/x/transitiveMembers", "$top=5"),
            4
        );
        assert_eq!(resource_units("/v1.0/groups", "$select=id&$top=1"), 1);
        assert_eq!(resource_units("/v1.0/users/delta", "$deltatoken=abc"), 1);
    }

    /// On a paused clock, which moves only by the budget's own sleeps: ten
    /// units free, then ten more at 50 a second.
    #[tokio::test(start_paused = true)]
    async fn pacing_spreads_requests_over_the_window() {
        let b = Budget::new(10, Duration::from_millis(200));
        let start = Instant::now();
        for _ in 0..10 {
            b.pace(1).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the first ten are free");
        for _ in 0..10 {
            b.pace(1).await;
        }
        let took = start.elapsed();
        // 20 ms a unit; tokio's timer rounds each sleep up to its next
        // millisecond.
        assert!(
            took >= Duration::from_millis(200) && took <= Duration::from_millis(215),
            "{took:?}"
        );
    }
}
