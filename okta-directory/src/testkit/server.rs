//! The HTTP side of the simulated org: one axum fallback handler that
//! counts, delays, injects faults, enforces the concurrency and rate limits,
//! authorizes, and routes to the listings.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use directory_core::DirectoryData;

use super::auth::{unix_now, AuthServer, Presented};
use super::faults::{Fault, FaultKind, Switches};
use super::listing::Directory;
use super::syslog::SystemLog;
use super::wire::api_error;
use crate::ratelimit::bucket_of;

/// A response before it becomes HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn api_error(status: u16, code: &str, summary: &str) -> Self {
        Self::json(status, &api_error(code, summary))
    }
}

/// The org's rate limits.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) per_window: u64,
    pub(crate) buckets: HashMap<&'static str, u64>,
    pub(crate) window_secs: u64,
    pub(crate) concurrency: usize,
}

/// Everything the handler shares.
pub(crate) struct Shared {
    pub(crate) base: String,
    pub(crate) auth: AuthServer,
    pub(crate) dir: RwLock<Directory>,
    pub(crate) log: Mutex<SystemLog>,
    pub(crate) app_id: String,
    pub(crate) switches: Mutex<Switches>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) limits: Limits,
    windows: Mutex<HashMap<&'static str, (u64, u64)>>,
    in_flight: AtomicUsize,
    pub(crate) counts: Mutex<BTreeMap<String, u64>>,
    pub(crate) served_429: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub(crate) fn new(
        base: String,
        auth: AuthServer,
        data: DirectoryData,
        app_id: String,
        limits: Limits,
        latency: Duration,
    ) -> Self {
        Self {
            base,
            auth,
            dir: RwLock::new(Directory::new(data)),
            log: Mutex::new(SystemLog::default()),
            app_id,
            switches: Mutex::new(Switches::default()),
            faults: Mutex::new(Vec::new()),
            latency: Mutex::new(latency),
            limits,
            windows: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            counts: Mutex::new(BTreeMap::new()),
            served_429: AtomicU64::new(0),
        }
    }

    fn take_fault(&self, path: &str) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let kind = faults
            .iter_mut()
            .find_map(|f| f.take(path).then(|| f.kind.clone()));
        faults.retain(|f| !f.spent());
        kind
    }

    /// Counts the request in its bucket's window; `Err` with the 429 when over.
    fn rate_limit(&self, bucket: &'static str) -> (Vec<(&'static str, String)>, bool) {
        let limit = self
            .limits
            .buckets
            .get(bucket)
            .copied()
            .unwrap_or(self.limits.per_window);
        let w = self.limits.window_secs.max(1);
        let now = unix_now();
        let start = now - now % w;
        let mut windows = lock(&self.windows);
        let entry = windows.entry(bucket).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 += 1;
        let over = entry.1 > limit;
        let headers = vec![
            ("x-rate-limit-limit", limit.to_string()),
            (
                "x-rate-limit-remaining",
                limit.saturating_sub(entry.1).to_string(),
            ),
            ("x-rate-limit-reset", (start + w).to_string()),
        ];
        (headers, over)
    }

    fn respond(&self, parts: &Parts, body: &[u8], fault: Option<&FaultKind>) -> Reply {
        let sw = lock(&self.switches).clone();
        if sw.unknown_domain {
            let mut r = Reply::empty(404);
            r.headers.push(("content-type", "text/html".into()));
            r.body = b"<html><body>Not found</body></html>".to_vec();
            return r;
        }
        let path = parts.uri.path();
        let bucket = bucket_of(path);
        match fault {
            Some(FaultKind::Status(s)) => return self.fault_status(*s),
            Some(FaultKind::ConcurrencyLimited) => return concurrency_429(),
            Some(FaultKind::Redirect(to)) => {
                let mut r = Reply::empty(302);
                r.headers.push(("location", to.clone()));
                return r;
            }
            _ => {}
        }
        if self.in_flight.load(Ordering::SeqCst) > self.limits.concurrency {
            return concurrency_429();
        }
        let (rl_headers, over) = self.rate_limit(bucket);
        let mut reply = if over {
            Reply::api_error(
                429,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            )
        } else {
            self.route(&sw, parts, body, fault)
        };
        reply.headers.extend(rl_headers);
        reply
    }

    fn fault_status(&self, status: u16) -> Reply {
        if status == 429 {
            let mut r = Reply::api_error(
                429,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            );
            r.headers.push(("x-rate-limit-limit", "600".into()));
            r.headers.push(("x-rate-limit-remaining", "0".into()));
            r.headers
                .push(("x-rate-limit-reset", (unix_now() + 1).to_string()));
            return r;
        }
        let (code, summary) = match status {
            503 => ("E0000010", "Service is in read only mode"),
            _ => ("E0000009", "Internal Server Error"),
        };
        Reply::api_error(status, code, summary)
    }

    fn route(&self, sw: &Switches, parts: &Parts, body: &[u8], fault: Option<&FaultKind>) -> Reply {
        let path = parts.uri.path();
        if path == "/oauth2/v1/token" && parts.method == "POST" {
            let url = format!("{}/oauth2/v1/token", self.base);
            return self.auth.token(sw, &url, header(parts, "dpop"), body);
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let scope = match segments.as_slice() {
            ["api", "v1", "users"] => "okta.users.read",
            ["api", "v1", "groups"] | ["api", "v1", "groups", _, "users"] => "okta.groups.read",
            ["api", "v1", "apps", _, "users"] => "okta.apps.read",
            ["api", "v1", "logs"] => "okta.logs.read",
            _ => {
                let summary = "The endpoint does not support the provided HTTP method";
                return Reply::api_error(404, "E0000022", summary);
            }
        };
        if let Err(reply) = self.authorize(sw, parts, scope) {
            return reply;
        }
        let ctx = super::listing::PageCtx {
            base: &self.base,
            path,
            query: parts.uri.query().unwrap_or(""),
            fault,
        };
        self.list(sw, &segments, &ctx)
    }

    /// Token, DPoP proof, scope, then the admin role.
    fn authorize(&self, sw: &Switches, parts: &Parts, scope: &str) -> Result<(), Reply> {
        let htu = format!("{}{}", self.base, parts.uri.path());
        let presented = Presented {
            authorization: header(parts, "authorization"),
            dpop: header(parts, "dpop"),
            method: parts.method.as_str(),
            htu: &htu,
        };
        self.auth.authorize(sw, &presented, scope)?;
        if sw.no_admin_role {
            let summary = "You do not have permission to perform the requested action";
            return Err(Reply::api_error(403, "E0000006", summary));
        }
        Ok(())
    }

    fn list(&self, sw: &Switches, segments: &[&str], ctx: &super::listing::PageCtx<'_>) -> Reply {
        if segments == ["api", "v1", "logs"] {
            return lock(&self.log).serve(ctx, chrono::Utc::now());
        }
        let dir = self.dir.read().unwrap_or_else(|p| p.into_inner());
        match segments {
            ["api", "v1", "users"] => dir.users(ctx),
            ["api", "v1", "groups"] => dir.groups(ctx),
            ["api", "v1", "groups", gid, "users"] => dir.members(ctx, gid),
            ["api", "v1", "apps", app, "users"] if *app == self.app_id && !sw.wrong_app_id => {
                dir.app_users(ctx, app)
            }
            _ => {
                let id = segments.get(3).copied().unwrap_or("");
                let summary = format!("Not found: Resource not found: {id} (AppInstance)");
                Reply::api_error(404, "E0000007", &summary)
            }
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn concurrency_429() -> Reply {
    let mut r = Reply::api_error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    );
    r.headers.push(("x-rate-limit-limit", "0".into()));
    r.headers.push(("x-rate-limit-remaining", "0".into()));
    r.headers
        .push(("x-rate-limit-reset", (unix_now() + 60).to_string()));
    r
}

/// The one handler.
pub(crate) async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    *lock(&s.counts)
        .entry(bucket_of(&path).to_string())
        .or_default() += 1;
    s.in_flight.fetch_add(1, Ordering::SeqCst);
    let _guard = InFlight(&s.in_flight);
    let latency = *lock(&s.latency);
    if !latency.is_zero() {
        directory_core::testing::network_delay(latency).await;
    }
    let fault = s.take_fault(&path);
    if let Some(FaultKind::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let reply = s.respond(&parts, &body, fault.as_ref());
    if reply.status == 429 {
        s.served_429.fetch_add(1, Ordering::Relaxed);
    }
    into_response(reply, fault.as_ref())
}

fn into_response(mut reply: Reply, fault: Option<&FaultKind>) -> Response {
    let ok = (200..300).contains(&reply.status);
    let body = match fault {
        Some(FaultKind::CutBody) if ok => {
            let half = reply.body.get(..reply.body.len() / 2).unwrap_or_default();
            let half = Bytes::from(half.to_vec());
            let cut = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut by fault injection",
            );
            Body::from_stream(futures::stream::iter(vec![Ok(half), Err(cut)]))
        }
        Some(FaultKind::TruncatedJson) if ok => {
            reply.body.truncate(reply.body.len() / 2);
            Body::from(reply.body)
        }
        Some(FaultKind::MalformedJson) if ok => Body::from(
            br#"[{"id":"00uBROKEN","status":"ACTIVE","profile":{"login":["not","a","string"]}}]"#
                .to_vec(),
        ),
        _ => Body::from(reply.body),
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header("date", httpdate::fmt_http_date(SystemTime::now()))
        .header(
            "x-okta-request-id",
            format!("sim-{}", uuid::Uuid::new_v4().simple()),
        );
    for (k, v) in reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
