//! # scim-directory
//!
//! The push side of directory sync: a SCIM 2.0 service provider (RFC 7643,
//! RFC 7644) that Okta and Microsoft Entra ID provisioning write into. Each
//! customer gets a directory with its own endpoint URL and bearer token;
//! what they push lands in a durable store, is logged as ordered change
//! events, and reads back as a [`directory_core::DirectoryProvider`], so a
//! pushed directory goes through the same `Snapshot` and reconcile as one
//! pulled from Okta or Graph.
//!
//! ## Main types
//!
//! * [`ScimService`]: tenants and tokens, and [`ScimService::handle`], which
//!   turns an `http::Request<Bytes>` into an `http::Response<Bytes>`. With
//!   the `axum` feature, `axum::router` serves it.
//! * Tenant administration on [`ScimService`]: `create_tenant`, `tenants`
//!   ([`TenantInfo`]: status and dates, never a token or hash),
//!   `suspend_tenant` / `resume_tenant`, `delete_tenant` (with all its
//!   data), `rotate_token` with an overlap window, `revoke_tokens`. The time
//!   comes from [`ServiceConfig::clock`] ([`Clock`]), which a test moves.
//! * [`Store`] (async) with [`MemoryStore`], `SqliteStore` (feature
//!   `sqlite`, on by default) and, with the `postgres` feature, `PgStore`: where users, groups, tenants and the
//!   event log live.
//! * [`ScimDirectory`]: one tenant's directory as a `DirectoryProvider`;
//!   `DirectoryProviderExt::sync` rounds after the first are incremental,
//!   read from the change log (full, saying why, when the log cannot vouch
//!   for the state: truncated, reset, another store or tenant).
//! * [`Event`] / [`Change`] / [`EventCursor`]: the change log a host reads
//!   with [`ScimService::events`].
//! * [`ScimError`]: the SCIM Error-schema response, with `scimType`.
//!
//! ## Use
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use directory_core::{DirectoryProviderExt, UserStatus};
//! use scim_directory::{Change, EventCursor, MemoryStore, ScimService};
//!
//! # futures::executor::block_on(async {
//! let service = ScimService::new(Arc::new(MemoryStore::new()));
//! // Show the endpoint and token to the customer's admin once.
//! let acme = service.create_tenant("acme", "Acme Corp").await.unwrap();
//! assert_eq!(acme.endpoint, "http://127.0.0.1/scim/v2/acme");
//!
//! // Okta creates a user...
//! let auth = format!("Bearer {}", acme.token.expose_secret());
//! let req = http::Request::post("/scim/v2/acme/Users")
//!     .header("authorization", &auth)
//!     .body(Bytes::from(r#"{"userName":"ada@acme.test","active":true,
//!         "emails":[{"value":"ada@acme.test","primary":true}]}"#))
//!     .unwrap();
//! let resp = service.handle(req).await;
//! assert_eq!(resp.status(), 201);
//!
//! // ...and the host reads the change log and a snapshot.
//! let page = service.events("acme", EventCursor::START, 100).await.unwrap();
//! assert!(matches!(page.events[0].change, Change::UserCreated { .. }));
//! let snapshot = service.directory("acme").await.unwrap().snapshot().await.unwrap();
//! assert_eq!(snapshot.users[0].status, UserStatus::Active);
//! # });
//! ```
//!
//! ## Design notes
//!
//! * **Framework-agnostic core.** The service is async over an async
//!   [`Store`] and speaks `http` types, so any server can host it; the axum
//!   router is a thin layer over it.
//! * **Normalize on write, store JSON.** Bodies are stored as normalized SCIM
//!   JSON (schema spelling of names, Entra's `"True"`/`"False"` as booleans,
//!   nulls dropped, unknown attributes kept). PATCH works on that JSON; the
//!   model mapping is a pure function of it, 1:1 with SCIM core and
//!   enterprise attributes, everything else in `custom_attributes`.
//! * **Tolerant where IdPs deviate**, strict where it matters: PATCH op
//!   names in any case, path-less `{"active": false}`, `members[value eq
//!   ".."]` filter paths and Entra's value-list member removal, Entra's
//!   `emails[type eq "work"].value eq ".."` filter and bare `manager` path;
//!   `userName` unique case-insensitively (409 `uniqueness`, which Okta's
//!   spec test checks), and so is a group's `displayName` (Entra matches
//!   groups by name); group members must exist. Group PATCH answers 204.
//! * **Token before body.** The axum router authenticates from the request
//!   head ([`ScimService::authorize`]) before it reads the body.
//! * **Operator features in the router.** Per-tenant and per-peer
//!   (unauthenticated) token buckets answering a SCIM 429 with
//!   `Retry-After`, a request log through `tracing` (never a token, body or
//!   query string), timeouts on the request head and body
//!   (`axum::RouterConfig`, `axum::serve`).
//! * **Filters by index.** The part of a filter on `id`, `externalId`,
//!   `userName`, a group's `displayName` (`eq` / `sw`, `and` / `or`) and
//!   `members.value eq` is answered by the store's indexes
//!   ([`Store::query`], SQL in SQLite and PostgreSQL); the rest is
//!   evaluated over at most `ServiceConfig::max_filter_candidates`
//!   candidates, else 400 `tooMany`. Lists page in creation order, stable
//!   while resources are created.
//! * **One transaction per request.** Writes and their events are committed
//!   together; a request that changes nothing (Entra's periodic
//!   `active: true`) writes nothing and logs nothing.
//! * **Tokens are hashed.** SHA-256 in the store, constant-time comparison,
//!   shown once; a wrong tenant and a wrong token get the same 401. A
//!   rotation keeps the previous token's hash until the overlap window
//!   ends, so the IdP can be updated without a gap; a revocation drops
//!   both hashes at once.
//! * **A suspended tenant answers 401** to every SCIM request; only a
//!   caller with the tenant's own token is told it is suspended (anyone
//!   else gets the generic 401), so the state leaks to no one.
//! * **Bounded input.** Body size, filter length and depth, PATCH operation
//!   count and page size are limited; malformed input is a SCIM 400, never
//!   a panic (property-tested).
//! * **Not supported:** bulk, sorting, ETag preconditions, `/Me`, password
//!   change (the ServiceProviderConfig says so).
//!
//! ## Feature flags
//!
//! * `axum`: `axum::router` / `axum::router_with`, an axum `Router`
//!   serving a [`ScimService`], and `axum::serve`, which serves it with a
//!   timeout on the request head.
//! * `postgres`: `PgStore`, the store in PostgreSQL for several server
//!   processes on one database (sqlx, rustls; migrations shipped in the
//!   crate and applied on connect).
//! * `sqlite` (default): `SqliteStore`, the store in one SQLite file
//!   (rusqlite with SQLite bundled). Turn default features off to compile
//!   no SQLite when the store is in memory or PostgreSQL.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

mod admin;
mod clock;
mod errors;
mod events;
mod filter;
mod incremental;
mod model;
mod patch;
mod provider;
mod render;
mod resources;
mod schema;
mod service;
mod store;
mod tenant;
mod tenant_cache;

#[cfg(feature = "axum")]
pub mod axum;

pub use clock::Clock;
pub use errors::{ScimError, ScimType, StoreError, ERROR_SCHEMA, SCIM_MEDIA_TYPE};
pub use events::{Change, Event, EventCursor, EventPage};
pub use filter::{parse_filter, AttrPath, CompareOp, Filter, FilterLimits};
pub use patch::{parse_patch, OpKind, PatchOp, PatchPath};
pub use provider::{ScimDirectory, DEFAULT_PAGE_SIZE};
pub use schema::{ResourceType, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
pub use service::{ScimService, ServiceConfig};
#[cfg(feature = "postgres")]
pub use store::PgStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{
    unique_attribute, GroupRef, IndexFilter, IndexOp, IndexedAttr, MemberKinds, MemoryStore,
    ResourcePage, ResourceQuery, Store, StoredResource, TenantChange, Write,
};
pub use tenant::{NewTenant, TenantInfo, TenantRecord, TenantStatus, TOKEN_PREFIX};
