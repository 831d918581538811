//! An axum router serving a [`ScimService`] (feature `axum`), with the
//! operator features a host needs in front of IdP provisioning traffic.
//!
//! The router checks the bearer token from the request head before it reads
//! a byte of the body, so a client without the token gets its 401 at once
//! and cannot make the server buffer anything. It then refuses a declared
//! `Content-Length` above the service's limit, reads the body up to that
//! limit (a larger body is a SCIM 413, not a dropped connection) within
//! [`RouterConfig::body_timeout`] (a 408 past it) and runs the service on
//! tokio's blocking pool, so SQLite writes never stall the async workers.
//!
//! * **Rate limits.** Each tenant has a token bucket
//!   ([`RouterConfig::tenant_rate`]); past it the answer is a SCIM 429 with
//!   `Retry-After` in whole seconds, which Entra and Okta provisioning back
//!   off on. Requests whose token is wrong draw from a bucket per peer
//!   address ([`RouterConfig::unauthenticated_rate`]); once it is empty that
//!   address gets 429 before its token is even checked, so a wrong-token
//!   flood is not answered at full speed. Without `ConnectInfo` (a host
//!   serving the router with plain `axum::serve`) all peers share one bucket.
//! * **Request log.** One `tracing` event per request at INFO, target
//!   `scim_directory::request`: tenant (empty when not authenticated),
//!   method, path, status, latency in milliseconds. Never a header, a token
//!   or a body, and never the query string: a SCIM filter names people
//!   (`userName eq "ada@acme.test"`), which does not belong in access logs.
//! * **Head timeout.** [`serve`] serves the router with a timeout on reading
//!   a request head ([`RouterConfig::head_timeout`]); `axum::serve` has none.

mod limit;
mod serve;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::errors::ScimError;
use crate::service::ScimService;
use limit::{retry_after_secs, Buckets};

pub use limit::RateLimit;
pub use serve::serve;

/// What a host sets on the router; [`RouterConfig::default`] is sensible
/// for a multi-tenant server.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Requests per tenant (default 25 per second, bursts of 100: well above
    /// what Okta or Entra provisioning sends to one app).
    pub tenant_rate: RateLimit,
    /// Requests with a missing or wrong token, per peer address (default 1
    /// per second, bursts of 20). A peer past it gets 429 before its token
    /// is checked, good or not: behind a reverse proxy all requests share
    /// the proxy's address, so raise it there.
    pub unauthenticated_rate: RateLimit,
    /// Time to read a whole request body (default 30 s): 408 past it.
    pub body_timeout: Duration,
    /// Time to read a request head, used by [`serve`] (default 10 s).
    pub head_timeout: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            tenant_rate: rate(25, 100),
            unauthenticated_rate: rate(1, 20),
            body_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(10),
        }
    }
}

fn rate(per_second: u32, burst: u32) -> RateLimit {
    let one = NonZeroU32::MIN;
    RateLimit::new(
        NonZeroU32::new(per_second).unwrap_or(one),
        NonZeroU32::new(burst).unwrap_or(one),
    )
}

#[derive(Clone)]
struct Shared {
    service: ScimService,
    body_timeout: Duration,
    tenants: Arc<Buckets>,
    strangers: Arc<Buckets>,
}

/// A router answering every path with the service (it does its own routing
/// under [`crate::ServiceConfig::base_path`]), with the default
/// [`RouterConfig`]. Merge or nest it into a host's router, or serve it
/// with [`serve`].
pub fn router(service: ScimService) -> Router {
    router_with(service, RouterConfig::default())
}

/// [`router`] with the host's [`RouterConfig`].
pub fn router_with(service: ScimService, config: RouterConfig) -> Router {
    let shared = Shared {
        service,
        body_timeout: config.body_timeout,
        tenants: Arc::new(Buckets::new(config.tenant_rate)),
        strangers: Arc::new(Buckets::new(config.unauthenticated_rate)),
    };
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (tenant, resp) = answer(&shared, req).await;
    tracing::info!(
        target: "scim_directory::request",
        tenant = tenant.as_deref().unwrap_or_default(),
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        "SCIM request"
    );
    into_axum(resp)
}

/// The response, with the tenant when the token was good.
async fn answer(shared: &Shared, req: Request) -> (Option<String>, http::Response<Bytes>) {
    let peer = peer_key(&req);
    if let Err(wait) = shared.strangers.check(&peer) {
        return (None, too_many(wait));
    }
    let (parts, body) = req.into_parts();
    let (parts, verdict) = authorize(&shared.service, parts).await;
    let Some(parts) = parts else {
        return (None, ScimError::internal().into_response());
    };
    if let Err(denied) = verdict {
        return (None, refused(shared, &peer, denied));
    }
    let tenant = tenant_segment(&shared.service, parts.uri.path());
    if let Err(wait) = shared.tenants.take(&tenant) {
        return (Some(tenant), too_many(wait));
    }
    let resp = serve_authorized(shared, parts, body).await;
    (Some(tenant), resp)
}

/// A denied request draws from its peer's bucket: 429 once it is empty.
fn refused(shared: &Shared, peer: &str, denied: ScimError) -> http::Response<Bytes> {
    match shared.strangers.take(peer) {
        Ok(()) => denied.into_response(),
        Err(wait) => too_many(wait),
    }
}

async fn authorize(
    service: &ScimService,
    parts: http::request::Parts,
) -> (Option<http::request::Parts>, Result<(), ScimError>) {
    let checker = service.clone();
    let checked = on_store(service, async move {
        let verdict = checker.authorize(&parts).await;
        (parts, verdict)
    })
    .await;
    match checked {
        Some((parts, verdict)) => (Some(parts), verdict),
        None => (None, Err(ScimError::internal())),
    }
}

async fn serve_authorized(
    shared: &Shared,
    parts: http::request::Parts,
    body: Body,
) -> http::Response<Bytes> {
    let limit = shared.service.config().max_body_bytes;
    if declared_length(&parts.headers).is_some_and(|n| n > limit) {
        return too_large(limit);
    }
    let bytes = match tokio::time::timeout(shared.body_timeout, to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return too_large(limit),
        Err(_) => return body_timed_out(shared.body_timeout),
    };
    let req = http::Request::from_parts(parts, bytes);
    let service = shared.service.clone();
    on_store(&shared.service, async move { service.handle(req).await })
        .await
        .unwrap_or_else(|| ScimError::internal().into_response())
}

/// The peer's IP address, or one key for all when the server gives none.
fn peer_key(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default()
}

/// The tenant segment of an authorized path.
fn tenant_segment(service: &ScimService, path: &str) -> String {
    let rest = path
        .strip_prefix(service.config().base_path.as_str())
        .unwrap_or(path);
    let tenant = rest.trim_start_matches('/').split('/').next();
    tenant.unwrap_or_default().to_string()
}

/// Runs work that calls the store: on tokio's blocking pool (driven by the
/// runtime's handle) when the store blocks its thread
/// ([`Store::blocks`](crate::Store::blocks): SQLite's fsync), so the async
/// workers never stall; on the worker itself otherwise, which spares a
/// thread hand-off at every database round trip. `None` if it panicked.
async fn on_store<T, F>(service: &ScimService, fut: F) -> Option<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    use futures::FutureExt;
    if service.store_blocks() {
        let rt = tokio::runtime::Handle::current();
        return tokio::task::spawn_blocking(move || rt.block_on(fut))
            .await
            .ok();
    }
    std::panic::AssertUnwindSafe(fut).catch_unwind().await.ok()
}

fn declared_length(headers: &http::HeaderMap) -> Option<usize> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn too_large(limit: usize) -> http::Response<Bytes> {
    ScimError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes"),
    )
    .into_response()
}

fn body_timed_out(timeout: Duration) -> http::Response<Bytes> {
    ScimError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!("the request body was not received within {timeout:?}"),
    )
    .into_response()
}

/// A SCIM 429 with `Retry-After` in whole seconds.
fn too_many(wait: Duration) -> http::Response<Bytes> {
    let secs = retry_after_secs(wait);
    let mut resp = ScimError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests: retry after {secs} s"),
    )
    .into_response();
    resp.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

fn into_axum(resp: http::Response<Bytes>) -> Response {
    resp.map(Body::from)
}
