//! The HTTP side of the simulated tenant: one axum server on 127.0.0.1 for
//! the token endpoint and Graph, with request counting, latency, a
//! concurrency limit, resource-unit throttling and fault injection.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use rand::rngs::StdRng;
use serde_json::{json, Value};

use super::auth::{AuthState, TokenRequest};
use super::data::TenantData;
use super::faults::{self, Armed, Bucket, FaultKind};
use super::mutate::ChangeLog;

/// The directory, its change log and the generator for new ids.
pub(crate) struct Tenant {
    pub data: TenantData,
    pub log: ChangeLog,
    pub rng: StdRng,
}

/// Delta token generations: tokens older than `expired_below` get 400
/// `syncStateNotFound`, older than `reset_below` 410 Gone.
#[derive(Debug, Default)]
pub(crate) struct DeltaClock {
    pub generation: u64,
    pub expired_below: u64,
    pub reset_below: u64,
    pub ttl_secs: u64,
}

/// Request counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Every request served.
    pub total: u64,
    /// Requests per endpoint (`token`, `users`, `users/delta`, `groups`,
    /// `groups/delta`, `groups/members`, `servicePrincipals`,
    /// `servicePrincipals/appRoleAssignedTo`, `other`).
    pub by_endpoint: BTreeMap<String, u64>,
    /// 429 answers served (throttling, concurrency, or injected).
    pub throttled: u64,
}

impl RequestStats {
    /// Requests to one endpoint.
    pub fn endpoint(&self, name: &str) -> u64 {
        self.by_endpoint.get(name).copied().unwrap_or(0)
    }

    /// Graph requests (everything but the token endpoint).
    pub fn graph(&self) -> u64 {
        self.total - self.endpoint("token")
    }
}

/// Switches and state shared by all requests.
pub(crate) struct Sim {
    pub base: String,
    /// Read by every request at once; written only by `mutate`.
    pub tenant: RwLock<Tenant>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<Vec<Armed>>,
    pub stats: Mutex<RequestStats>,
    pub bucket: Mutex<Option<Bucket>>,
    pub delta: Mutex<DeltaClock>,
    pub latency: Mutex<Duration>,
    pub inflight: AtomicUsize,
    pub concurrency_limit: Option<usize>,
    pub sp_deleted: std::sync::atomic::AtomicBool,
    pub log: Mutex<std::collections::VecDeque<String>>,
}

/// Requests kept in the request log, oldest dropped first.
const LOG_CAP: usize = 20_000;

/// Locks a mutex, recovering from a panicked holder (tests may panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the tenant, recovering from a panicked writer.
pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes the tenant, recovering from a panicked holder.
pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A response before it is sent.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: Value,
    /// The body already written out (list pages), parsed back into `body`
    /// only when a fault edits it.
    text: Option<String>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            text: None,
        }
    }

    /// A reply whose body is already JSON text.
    pub fn text(status: u16, text: String) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Value::Null,
            text: Some(text),
        }
    }

    /// The body as a `Value`, for faults that edit it.
    fn body_mut(&mut self) -> &mut Value {
        if let Some(text) = self.text.take() {
            self.body = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        &mut self.body
    }

    /// The body as sent.
    fn into_text(self) -> String {
        self.text.unwrap_or_else(|| self.body.to_string())
    }

    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// The identity platform's error body, with `error_codes` and a trace id.
pub(crate) fn aad_error(status: u16, error: &str, code: u64, text: &str) -> Reply {
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = uuid::Uuid::new_v4().to_string();
    let stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ");
    Reply::json(status, json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {stamp}"),
        "error_codes": [code],
        "timestamp": stamp.to_string(),
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    }))
    .header("x-ms-request-id", trace)
}

/// Graph's error body, with the request id in the body and the headers.
pub(crate) fn graph_error(status: u16, code: &str, message: &str) -> Reply {
    let id = uuid::Uuid::new_v4().to_string();
    Reply::json(status, json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": chrono::Utc::now().to_rfc3339(), "request-id": id, "client-request-id": id}
        }
    }))
    .header("request-id", id.clone())
    .header("client-request-id", id)
}

fn throttled(retry_after: u64, why: &str) -> Reply {
    graph_error(429, "TooManyRequests", "Please retry again later.")
        .header("retry-after", retry_after.to_string())
        .header("x-ms-throttle-scope", "Tenant_Application/ReadWrite/sim")
        .header("x-ms-throttle-information", why)
}

/// What a request is for.
pub(crate) enum Route {
    Token(String),
    Graph(Vec<String>),
}

impl Route {
    fn parse(path: &str) -> Route {
        let segs: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(String::from)
            .collect();
        match segs.as_slice() {
            [tenant, a, b, c] if a == "oauth2" && b == "v2.0" && c == "token" => {
                Route::Token(tenant.clone())
            }
            [v, rest @ ..] if v == "v1.0" => Route::Graph(rest.to_vec()),
            _ => Route::Graph(segs),
        }
    }

    pub fn name(&self) -> &'static str {
        let Route::Graph(s) = self else {
            return "token";
        };
        let s: Vec<&str> = s.iter().map(String::as_str).collect();
        match s.as_slice() {
            ["users"] => "users",
            ["users", "delta"] => "users/delta",
            ["groups"] => "groups",
            ["groups", "delta"] => "groups/delta",
            ["groups", _, "members"] => "groups/members",
            ["servicePrincipals", _, "appRoleAssignedTo"] => "servicePrincipals/appRoleAssignedTo",
            [sp] | [sp, _] if sp.starts_with("servicePrincipals") => "servicePrincipals",
            _ => "other",
        }
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The one handler: routes, counts, delays, injects faults, throttles.
pub(crate) async fn handle(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth_header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let route = Route::parse(&path);
    count(&sim, route.name(), false);
    record(&sim, &path, &query);
    let inflight = sim.inflight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&sim.inflight);
    let latency = *lock(&sim.latency);
    if !latency.is_zero() {
        directory_core::testing::network_delay(latency).await;
    }
    let fault = faults::take(
        &mut lock(&sim.faults),
        &path,
        matches!(route, Route::Token(_)),
    );
    if let Some(reply) = pre_fault(&sim, fault.as_ref()).await {
        return finish(&sim, reply, None, &path, &query);
    }
    if sim.concurrency_limit.is_some_and(|l| inflight > l) {
        return finish(
            &sim,
            throttled(1, "ConcurrencyLimitExceeded"),
            None,
            &path,
            &query,
        );
    }
    let reply = match &route {
        Route::Token(tenant) => token(&sim, tenant, &body),
        Route::Graph(segs) => graph(&sim, segs, &path, &query, auth_header.as_deref()),
    };
    finish(&sim, reply, fault, &path, &query)
}

async fn pre_fault(sim: &Sim, fault: Option<&FaultKind>) -> Option<Reply> {
    match fault? {
        FaultKind::Status {
            status: 429,
            retry_after,
        } => Some(throttled(
            retry_after.unwrap_or(1),
            "ResourceUnitLimitExceeded",
        )),
        FaultKind::Status {
            status,
            retry_after,
        } => {
            let r = graph_error(
                *status,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            );
            Some(match retry_after {
                Some(s) => r.header("retry-after", s.to_string()),
                None => r,
            })
        }
        FaultKind::Redirect(to) => Some(Reply::json(307, json!({})).header("location", to.clone())),
        FaultKind::Delay(d) => {
            tokio::time::sleep(*d).await;
            None
        }
        FaultKind::ExpireTokens => {
            lock(&sim.auth).generation += 1;
            None
        }
        _ => None,
    }
}

fn record(sim: &Sim, path: &str, query: &str) {
    let mut log = lock(&sim.log);
    if log.len() >= LOG_CAP {
        log.pop_front();
    }
    log.push_back(if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    });
}

fn count(sim: &Sim, endpoint: &str, throttled: bool) {
    let mut s = lock(&sim.stats);
    if throttled {
        s.throttled += 1;
        return;
    }
    s.total += 1;
    *s.by_endpoint.entry(endpoint.to_string()).or_default() += 1;
}

fn token(sim: &Sim, tenant: &str, body: &[u8]) -> Reply {
    let form = directory_core::http::url::form_urlencoded::parse(body)
        .into_owned()
        .collect();
    let req = TokenRequest {
        tenant: tenant.to_string(),
        token_url: format!("{}/{tenant}/oauth2/v2.0/token", sim.base),
        scope_expected: format!("{}/.default", sim.base),
        form,
    };
    lock(&sim.auth).token(&req, unix_now())
}

fn graph(sim: &Sim, segs: &[String], path: &str, query: &str, auth: Option<&str>) -> Reply {
    let roles = match lock(&sim.auth).verify(auth, &sim.base) {
        Ok(r) => r,
        Err(msg) => {
            return graph_error(401, "InvalidAuthenticationToken", msg)
                .header("www-authenticate", "Bearer")
        }
    };
    let cost = faults::resource_units(path, query);
    if let Some(bucket) = lock(&sim.bucket).as_mut() {
        if let Err(wait) = bucket.take(cost) {
            return throttled(
                wait.as_secs_f64().ceil().max(1.0) as u64,
                "ResourceUnitLimitExceeded",
            );
        }
    }
    super::graph::serve(sim, segs, query, &roles).header("x-ms-resource-unit", cost.to_string())
}

/// Applies body faults and turns the reply into a response.
fn finish(
    sim: &Sim,
    mut reply: Reply,
    fault: Option<FaultKind>,
    path: &str,
    query: &str,
) -> Response {
    if reply.status == 429 {
        count(sim, "", true);
    }
    let current = format!("{}{}?{}", sim.base, path, query);
    let mut cut = false;
    let status = reply.status;
    let headers = std::mem::take(&mut reply.headers);
    let text = match fault {
        Some(FaultKind::EmptyPage) if status == 200 && reply.body_mut().get("value").is_some() => {
            let body = reply.body_mut();
            body["value"] = json!([]);
            body["@odata.nextLink"] = json!(format!("{current}&$emptied=1"));
            reply.into_text()
        }
        Some(FaultKind::CyclingNextLink) if status == 200 => {
            reply.body_mut()["@odata.nextLink"] = json!(current);
            reply.into_text()
        }
        Some(FaultKind::ForeignNextLink) if status == 200 => {
            reply.body_mut()["@odata.nextLink"] =
                json!(format!("https://graph.evil.example{path}?{query}"));
            reply.into_text()
        }
        Some(FaultKind::MalformedJson) => {
            json!({"value": [{"id": 12345, "accountEnabled": "yes"}]}).to_string()
        }
        Some(FaultKind::TruncatedJson) => {
            let s = reply.into_text();
            let mut n = s.len() / 2;
            while !s.is_char_boundary(n) {
                n -= 1;
            }
            s[..n].to_string()
        }
        Some(FaultKind::CutConnection) => {
            cut = true;
            reply.into_text()
        }
        _ => reply.into_text(),
    };
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in &headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = if cut {
        cut_body(text)
    } else {
        Body::from(text)
    };
    b.body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn cut_body(text: String) -> Body {
    let half = bytes::Bytes::from(text.into_bytes());
    let first = half.slice(..half.len() / 2);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(first),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "cut by the simulated tenant",
        )),
    ];
    Body::from_stream(futures::stream::iter(chunks))
}
