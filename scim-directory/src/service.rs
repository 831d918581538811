//! The SCIM service: tenants, authentication and routing of an
//! `http::Request<Bytes>` to a handler, answering an `http::Response<Bytes>`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::lock::{Mutex, OwnedMutexGuard};

use bytes::Bytes;
use directory_core::Error;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::errors::{json_response, ScimError};
use crate::events::{EventCursor, EventPage};
use crate::filter::FilterLimits;
use crate::provider::ScimDirectory;
use crate::resources::Ctx;
use crate::schema::{self, ResourceType, LIST_SCHEMA};
use crate::store::Store;
use crate::tenant::{TenantRecord, TenantStatus};
use crate::tenant_cache::TenantCache;

/// Limits and addresses of a [`ScimService`].
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The URL prefix every tenant endpoint lives under (default `/scim/v2`).
    pub base_path: String,
    /// The public origin clients reach the service at, for `meta.location`
    /// and the endpoint shown to admins (default `http://127.0.0.1`).
    pub public_url: String,
    /// Largest accepted request body in bytes (default 1 MiB): 413 above.
    pub max_body_bytes: usize,
    /// Page size when a list request gives no `count` (default 100).
    pub default_page_size: usize,
    /// Largest page size served; a larger `count` is lowered (default 1000).
    pub max_page_size: usize,
    /// Filter length and nesting limits.
    pub filter_limits: FilterLimits,
    /// Where tenant administration and token checks read the time
    /// (default the system clock).
    pub clock: Clock,
    /// The most resources a list request evaluates a filter over in memory
    /// (default 1000). A filter on indexed attributes only (`id`,
    /// `externalId`, `userName`, a group's `displayName` with `eq` / `sw`,
    /// `members.value eq`, joined by `and` / `or`) is answered by the store
    /// at any size; any other part is evaluated over the resources the
    /// indexed part selects, or every resource of the type when nothing is
    /// indexed. More candidates than this: a 400 `tooMany`.
    pub max_filter_candidates: usize,
    /// How long a tenant's record read for a token check is kept (default
    /// one second; `Duration::ZERO` reads it for every request). Token
    /// rotation, revocation, suspension and deletion through this service
    /// take effect at once; made by another process (a second server, the
    /// example's `tenants` command) they take effect here within this time.
    /// Writes never rely on it: a commit checks the tenant in its own
    /// transaction.
    pub tenant_cache_ttl: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            base_path: "/scim/v2".into(),
            public_url: "http://127.0.0.1".into(),
            max_body_bytes: 1024 * 1024,
            default_page_size: 100,
            max_page_size: 1000,
            filter_limits: FilterLimits::default(),
            clock: Clock::system(),
            max_filter_candidates: 1000,
            tenant_cache_ttl: Duration::from_secs(1),
        }
    }
}

struct Inner {
    store: Arc<dyn Store>,
    config: ServiceConfig,
    /// Writes of one tenant take turns in this process (a create's
    /// uniqueness check and its commit, a PATCH's read and its write), so
    /// they do not race each other into retries; one lock per tenant, so
    /// one tenant's writes never wait for another's (tenants hashed onto a
    /// fixed set of locks queued some tenants behind others' writes under
    /// load). Across processes the store decides (unique indexes,
    /// versions).
    write_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Tenant records for the token check.
    tenants: TenantCache,
}

/// Tenants' write locks kept while nobody holds or awaits them; past
/// this, such locks are dropped.
const IDLE_WRITE_LOCKS: usize = 1024;

/// A multi-tenant SCIM 2.0 service provider over a [`Store`].
///
/// Cheap to clone (an `Arc`). [`ScimService::handle`] is async and
/// framework-agnostic; the `axum` feature wraps it in a router.
#[derive(Clone)]
pub struct ScimService {
    inner: Arc<Inner>,
}

impl fmt::Debug for ScimService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ScimService {
    /// A service with the default [`ServiceConfig`].
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_config(store, ServiceConfig::default())
    }

    /// A service with the given configuration.
    pub fn with_config(store: Arc<dyn Store>, mut config: ServiceConfig) -> Self {
        config.base_path = format!("/{}", config.base_path.trim_matches('/'));
        if config.base_path == "/" {
            config.base_path.clear();
        }
        config.public_url = config.public_url.trim_end_matches('/').to_string();
        config.max_page_size = config.max_page_size.max(1);
        config.default_page_size = config.default_page_size.clamp(1, config.max_page_size);
        let inner = Inner {
            store,
            tenants: TenantCache::new(config.tenant_cache_ttl),
            config,
            write_locks: std::sync::Mutex::new(HashMap::new()),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// Whether the store blocks the thread it runs on ([`Store::blocks`]).
    #[cfg(feature = "axum")]
    pub(crate) fn store_blocks(&self) -> bool {
        self.inner.store.blocks()
    }

    /// Tenant records kept for the token check, which administration
    /// through this service keeps current.
    pub(crate) fn tenant_cache(&self) -> &TenantCache {
        &self.inner.tenants
    }

    /// The endpoint URL of a tenant, as the admin pastes it into the IdP.
    pub fn endpoint(&self, tenant_id: &str) -> String {
        let c = &self.inner.config;
        format!("{}{}/{tenant_id}", c.public_url, c.base_path)
    }

    /// The current time from [`ServiceConfig::clock`], to the microsecond:
    /// PostgreSQL keeps `timestamptz` to the microsecond, so a `lastModified`
    /// answered to a write must already be what every store reads back.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::SubsecRound;
        self.inner.config.clock.now().trunc_subsecs(6)
    }

    /// The tenant's directory as a [`directory_core::DirectoryProvider`].
    pub async fn directory(&self, tenant_id: &str) -> Result<ScimDirectory, Error> {
        self.tenant(tenant_id).await?;
        Ok(ScimDirectory::new(self.inner.store.clone(), tenant_id))
    }

    /// Up to `limit` events of a tenant after `after`, and the next cursor.
    pub async fn events(
        &self,
        tenant_id: &str,
        after: EventCursor,
        limit: usize,
    ) -> Result<EventPage, Error> {
        let events = self.store().events(tenant_id, after, limit.max(1)).await?;
        let next = events.last().map_or(after, |e| EventCursor(e.seq));
        Ok(EventPage { events, next })
    }

    /// The turn of `tenant_id`'s writes in this process (see `Inner`).
    pub(crate) async fn write_guard(&self, tenant_id: &str) -> Option<OwnedMutexGuard<()>> {
        let lock = {
            let mut locks = self.inner.write_locks.lock().ok()?;
            if locks.len() >= IDLE_WRITE_LOCKS {
                // Only this map holds a lock nobody holds or awaits.
                locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            locks.entry(tenant_id.to_string()).or_default().clone()
        };
        Some(lock.lock_owned().await)
    }

    /// Answers one SCIM request. Never panics on bad input: every problem is
    /// a SCIM error response.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        self.route(req)
            .await
            .unwrap_or_else(ScimError::into_response)
    }

    /// Checks a request's head alone (its path names a tenant, its bearer
    /// token is that tenant's) before anything reads the body: a server
    /// calls it first so that a client without the token cannot make it
    /// buffer a body. [`ScimService::handle`] checks again.
    /// The error is the 401 (or 404) to answer.
    pub async fn authorize(&self, head: &http::request::Parts) -> Result<(), ScimError> {
        self.tenant_of(head.uri.path(), &head.headers)
            .await
            .map(drop)
    }

    /// The path after the base path, or a 404.
    fn rest_of<'p>(&self, path: &'p str) -> Result<&'p str, ScimError> {
        path.strip_prefix(self.inner.config.base_path.as_str())
            .filter(|r| r.starts_with('/'))
            .ok_or_else(|| ScimError::not_found(format!("{path} is not a SCIM endpoint")))
    }

    /// The tenant the path names, when the headers carry its token.
    async fn tenant_of(&self, path: &str, headers: &HeaderMap) -> Result<TenantRecord, ScimError> {
        let rest = self.rest_of(path)?;
        let tenant_id = rest.trim_matches('/').split('/').next().unwrap_or_default();
        self.authenticate(tenant_id, headers).await
    }

    async fn route(&self, req: Request<Bytes>) -> Result<Response<Bytes>, ScimError> {
        let path = req.uri().path().to_string();
        let tenant = self.tenant_of(&path, req.headers()).await?;
        let mut segments = self.rest_of(&path)?.trim_matches('/').splitn(3, '/');
        let _tenant_segment = segments.next();
        let (resource, id) = (segments.next().unwrap_or_default(), segments.next());
        if req.body().len() > self.inner.config.max_body_bytes {
            return Err(ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than {} bytes",
                    self.inner.config.max_body_bytes
                ),
            ));
        }
        let base = self.endpoint(&tenant.id);
        let ctx = Ctx {
            service: self,
            tenant: &tenant.id,
            base: &base,
        };
        self.dispatch(&ctx, req.method(), resource, id, &req).await
    }

    async fn authenticate(
        &self,
        tenant_id: &str,
        headers: &HeaderMap,
    ) -> Result<TenantRecord, ScimError> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(ScimError::unauthorized)?;
        let tenant = match self.inner.tenants.get(tenant_id) {
            Some(kept) => kept,
            None => {
                let read = self.store().tenant(tenant_id).await?;
                let read = read.ok_or_else(ScimError::unauthorized)?;
                self.inner.tenants.put(&read);
                read
            }
        };
        if !tenant.token_matches(presented, self.now()) {
            return Err(ScimError::unauthorized());
        }
        match tenant.status {
            TenantStatus::Active => Ok(tenant),
            // Only a caller holding the tenant's token learns it is suspended.
            TenantStatus::Suspended => Err(ScimError::suspended()),
        }
    }

    async fn dispatch(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        resource: &str,
        id: Option<&str>,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, ScimError> {
        let rt = match resource {
            "Users" => ResourceType::User,
            "Groups" => ResourceType::Group,
            ".search" if method == Method::POST && id.is_none() => {
                return ctx
                    .search(&[ResourceType::User, ResourceType::Group], req.body())
                    .await
            }
            "ServiceProviderConfig" | "ResourceTypes" | "Schemas" => {
                return discovery(ctx, method, resource, id).await
            }
            _ => {
                return Err(ScimError::not_found(format!(
                    "there is no /{resource} endpoint"
                )))
            }
        };
        let query = req.uri().query().unwrap_or_default();
        match (method, id) {
            (&Method::GET, None) => ctx.list(rt, query).await,
            (&Method::POST, None) => ctx.create(rt, req.body()).await,
            (&Method::POST, Some(".search")) => ctx.search(&[rt], req.body()).await,
            (&Method::GET, Some(id)) => ctx.get(rt, id, query).await,
            (&Method::PUT, Some(id)) => ctx.replace(rt, id, req.body()).await,
            (&Method::PATCH, Some(id)) => ctx.patch(rt, id, req.body(), query).await,
            (&Method::DELETE, Some(id)) => ctx.delete(rt, id).await,
            _ => Err(method_not_allowed(method)),
        }
    }
}

fn method_not_allowed(method: &Method) -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not supported here"),
    )
}

async fn discovery(
    ctx: &Ctx<'_>,
    method: &Method,
    resource: &str,
    id: Option<&str>,
) -> Result<Response<Bytes>, ScimError> {
    if method != Method::GET {
        return Err(method_not_allowed(method));
    }
    let all = match resource {
        "ServiceProviderConfig" if id.is_none() => {
            let max = ctx.service.config().max_page_size;
            return Ok(json_response(
                StatusCode::OK,
                &schema::service_provider_config(ctx.base, max),
            ));
        }
        "ResourceTypes" => schema::resource_types(ctx.base),
        "Schemas" => schema::schemas(ctx.base),
        _ => {
            return Err(ScimError::not_found(format!(
                "there is no /{resource}/{}",
                id.unwrap_or("")
            )))
        }
    };
    match id {
        Some(id) => all
            .into_iter()
            .find(|v| v["id"] == id)
            .map(|v| json_response(StatusCode::OK, &v))
            .ok_or_else(|| ScimError::not_found(format!("there is no {resource}/{id}"))),
        None => Ok(json_response(StatusCode::OK, &list_body(all.len(), 1, all))),
    }
}

/// A ListResponse body.
pub(crate) fn list_body(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;
    use crate::MemoryStore;

    #[test]
    fn one_tenants_writes_wait_for_each_other_and_never_for_another_tenants() {
        let service = ScimService::new(Arc::new(MemoryStore::new()));
        let held = service.write_guard("acme").now_or_never().flatten();
        assert!(held.is_some());
        assert!(
            service.write_guard("acme").now_or_never().is_none(),
            "a second write of acme waits"
        );
        for other in (0..200).map(|i| format!("tenant-{i}")) {
            let guard = service.write_guard(&other).now_or_never().flatten();
            assert!(guard.is_some(), "{other} does not wait for acme");
        }
        drop(held);
        assert!(service.write_guard("acme").now_or_never().is_some());
    }

    #[test]
    fn locks_nobody_holds_are_dropped_past_the_bound() {
        let service = ScimService::new(Arc::new(MemoryStore::new()));
        let held = service.write_guard("kept").now_or_never().flatten();
        for i in 0..IDLE_WRITE_LOCKS + 10 {
            drop(service.write_guard(&format!("t{i}")).now_or_never());
        }
        let locks = service.inner.write_locks.lock().unwrap();
        assert!(locks.len() <= IDLE_WRITE_LOCKS, "{} kept", locks.len());
        assert!(locks.contains_key("kept"), "a held lock stays");
        drop(locks);
        drop(held);
    }
}
