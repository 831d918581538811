//! Fault injection and throttling for the simulated tenant.

use std::time::{Duration, Instant};

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this status and Graph's error body; a 429 or 503 carries
    /// `Retry-After` with `retry_after` seconds when set.
    Status {
        /// The HTTP status (429, 500, 502, 503, 504...).
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long before answering (past the client's timeout: a stall).
    Delay(Duration),
    /// Send half the body, then cut the connection.
    CutConnection,
    /// Send a JSON body cut in half.
    TruncatedJson,
    /// Send well-formed JSON of the wrong shape.
    MalformedJson,
    /// Send an empty page whose next link leads to the real page.
    EmptyPage,
    /// Send a next link that points back at the page just served.
    CyclingNextLink,
    /// Send a next link on another host.
    ForeignNextLink,
    /// Answer `307 Temporary Redirect` to this URL (a client must not
    /// follow it with its credentials).
    Redirect(String),
    /// Revoke every access token issued so far, then answer normally (the
    /// request itself then gets 401: a token expiring mid-sync).
    ExpireTokens,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultTarget {
    /// Every request.
    Any,
    /// The token endpoint only.
    TokenEndpoint,
    /// Graph requests only.
    Graph,
    /// Requests whose path contains this text (e.g. `/members`, `/users/delta`).
    PathContains(String),
}

/// A fault: what, where, after how many matching requests, how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Which requests.
    pub target: FaultTarget,
    /// Matching requests to let through first.
    pub skip: u64,
    /// How many times it fires; `None` for every matching request.
    pub times: Option<u64>,
}

impl Fault {
    /// A fault on the next Graph request.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            target: FaultTarget::Graph,
            skip: 0,
            times: Some(1),
        }
    }

    /// A status with Graph's error body (no `Retry-After`).
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status {
            status,
            retry_after: None,
        })
    }

    /// A 429 with `Retry-After: secs` and Graph's throttling headers.
    pub fn throttle(secs: u64) -> Self {
        Self::new(FaultKind::Status {
            status: 429,
            retry_after: Some(secs),
        })
    }

    /// The token endpoint answers 503 for every request.
    pub fn token_endpoint_down() -> Self {
        Self::status(503).on(FaultTarget::TokenEndpoint).always()
    }

    /// Applies to these requests.
    pub fn on(mut self, target: FaultTarget) -> Self {
        self.target = target;
        self
    }

    /// Applies to requests whose path contains `text`.
    pub fn on_path(self, text: impl Into<String>) -> Self {
        self.on(FaultTarget::PathContains(text.into()))
    }

    /// Fires `n` times.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fires on every matching request until cleared.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    /// Lets `n` matching requests through first.
    pub fn after(mut self, n: u64) -> Self {
        self.skip = n;
        self
    }

    fn matches(&self, path: &str, is_token: bool) -> bool {
        match &self.target {
            FaultTarget::Any => true,
            FaultTarget::TokenEndpoint => is_token,
            FaultTarget::Graph => !is_token,
            FaultTarget::PathContains(t) => path.contains(t.as_str()),
        }
    }
}

/// An injected fault and how often it matched and fired.
#[derive(Debug)]
pub(crate) struct Armed {
    fault: Fault,
    seen: u64,
    fired: u64,
}

/// Picks the fault for a request, counting matches; exhausted faults go.
pub(crate) fn take(armed: &mut Vec<Armed>, path: &str, is_token: bool) -> Option<FaultKind> {
    let mut out = None;
    for a in armed.iter_mut().filter(|a| a.fault.matches(path, is_token)) {
        a.seen += 1;
        if out.is_none() && a.seen > a.fault.skip && a.fault.times.is_none_or(|t| a.fired < t) {
            a.fired += 1;
            out = Some(a.fault.kind.clone());
        }
    }
    armed.retain(|a| a.fault.times.is_none_or(|t| a.fired < t));
    out
}

pub(crate) fn arm(f: Fault) -> Armed {
    Armed {
        fault: f,
        seen: 0,
        fired: 0,
    }
}

/// The tenant's resource-unit budget: `resource_units` per `window`, as
/// Graph's identity service counts them per app and tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Resource units allowed per window.
    pub resource_units: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// Graph's app + tenant limit for a tenant of this many users: 3,500,
    /// 5,000 or 8,000 resource units per 10 seconds.
    pub fn for_tenant_size(users: usize) -> Self {
        let ru = match users {
            0..=49 => 3_500,
            50..=500 => 5_000,
            _ => 8_000,
        };
        Self {
            resource_units: ru,
            window: Duration::from_secs(10),
        }
    }
}

/// A token bucket of resource units.
#[derive(Debug)]
pub(crate) struct Bucket {
    cap: f64,
    per_sec: f64,
    level: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(limit: RateLimit) -> Self {
        let cap = f64::from(limit.resource_units);
        Self {
            cap,
            per_sec: cap / limit.window.as_secs_f64().max(0.001),
            level: cap,
            last: Instant::now(),
        }
    }

    /// Takes `cost` units, or says how long until they are there.
    pub fn take(&mut self, cost: u32) -> Result<(), Duration> {
        let now = Instant::now();
        self.level =
            (self.level + now.duration_since(self.last).as_secs_f64() * self.per_sec).min(self.cap);
        self.last = now;
        let cost = f64::from(cost);
        if self.level >= cost {
            self.level -= cost;
            Ok(())
        } else {
            let secs = (cost - self.level) / self.per_sec;
            Err(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
        }
    }
}

pub(crate) use crate::ratelimit::resource_units;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_after_skips_and_then_go() {
        let mut armed = vec![arm(Fault::status(500).on_path("/users").after(1).times(2))];
        assert!(take(&mut armed, "/v1.0/users", false).is_none());
        assert!(take(&mut armed, "/v1.0/groups", false).is_none());
        assert!(take(&mut armed, "/v1.0/users", false).is_some());
        assert!(take(&mut armed, "/v1.0/users", false).is_some());
        assert!(armed.is_empty());
    }

    #[test]
    fn bucket_refuses_then_says_when() {
        let mut b = Bucket::new(RateLimit {
            resource_units: 3,
            window: Duration::from_secs(10),
        });
        assert!(b.take(2).is_ok());
        let wait = b.take(2).unwrap_err();
        assert!(
            wait > Duration::from_secs(3) && wait <= Duration::from_secs(4),
            "{wait:?}"
        );
    }
}
