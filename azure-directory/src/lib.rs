//! # azure-directory
//!
//! Keeps a SaaS backend's people records in step with a customer's
//! **Microsoft Entra ID** tenant: [`AzureDirectory`] reads users, groups,
//! group memberships (nested groups resolved) and the users assigned to the
//! customer's SSO app through Microsoft Graph, as a
//! [`directory_core::DirectoryProvider`], and syncs incrementally with Graph
//! delta queries.
//!
//! ## Main types
//!
//! * [`AzureDirectory`] and its [`AzureDirectoryBuilder`]: tenant, client id,
//!   a client secret or a certificate, the SSO app's service principal, the
//!   [`Cloud`] (global, US Gov L4, US Gov L5 DoD, China, or custom endpoints).
//! * [`AzureDirectory::delta_sync`] with [`DeltaState`] (kept by the host as
//!   JSON) and [`DeltaOutcome`] ([`DeltaOutcome::apply`] gives the new
//!   complete [`directory_core::Snapshot`]); [`AzureDirectory::delta_snapshot`]
//!   does both.
//! * [`ClientCertificate`] / [`ClientCredential`]: the two ways to sign in.
//! * `testkit` (feature `testkit`): a simulated Entra tenant and Graph on
//!   127.0.0.1 for tests, demos and benchmarks.
//!
//! ## Use
//!
//! ```
//! use azure_directory::testkit::SimulatedTenant;
//! use directory_core::DirectoryProviderExt;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // A simulated tenant on 127.0.0.1; against a real tenant use
//! // `AzureDirectory::from_env()` or the builder below.
//! let tenant = SimulatedTenant::builder().seed(1).users(50).groups(5).start().await.unwrap();
//! let azure = tenant.provider_builder().build().unwrap();
//! // For a real tenant:
//! // AzureDirectory::builder().tenant_id("...").client_id("...")
//! //     .client_secret("...").service_principal_id("...").build()?
//! let report = directory_core::DirectoryProvider::check(&azure).await;
//! assert!(report.is_ok(), "{report}");
//! let snapshot = azure.snapshot().await.unwrap();
//! assert!(snapshot.same_directory(&tenant.ground_truth()));
//!
//! // Incremental: keep `outcome.state` (JSON) and the snapshot for next time.
//! let first = azure.delta_sync(None).await.unwrap();
//! let base = first.apply(None).unwrap();
//! let next = azure.delta_sync(Some(&first.state)).await.unwrap();
//! assert!(next.changes.is_empty());
//! assert!(next.apply(Some(&base)).unwrap().same_directory(&base));
//! # });
//! ```
//!
//! ### Environment variables (`AzureDirectory::from_env`)
//!
//! | variable | meaning |
//! |---|---|
//! | `AZURE_TENANT_ID` | Directory (tenant) ID (GUID) or a verified domain |
//! | `AZURE_CLIENT_ID` | Application (client) ID of the app registration |
//! | `AZURE_CLIENT_SECRET` | a client secret's *Value*, or: |
//! | `AZURE_CLIENT_CERTIFICATE_PEM` / `AZURE_CLIENT_CERTIFICATE_FILE` | the certificate PEM (may include the key) |
//! | `AZURE_CLIENT_CERTIFICATE_KEY_PEM` / `AZURE_CLIENT_CERTIFICATE_KEY_FILE` | its RSA private key PEM, if not in the certificate file |
//! | `AZURE_CLIENT_CERTIFICATE_PSS` | `true` to sign assertions with PS256 instead of RS256 |
//! | `AZURE_SERVICE_PRINCIPAL_ID` | Object ID of the SSO app's enterprise application (optional) |
//! | `AZURE_CLOUD` | `global` (default), `usgov`, `usgov-dod`, `china` |
//! | `AZURE_AUTHORITY_HOST` / `AZURE_GRAPH_ENDPOINT` | custom endpoints (override the cloud) |
//!
//! The app needs the Microsoft Graph application permissions
//! `User.Read.All`, `GroupMember.Read.All` (or `Group.Read.All`), and
//! `Application.Read.All` when SSO users are synced, with admin consent.
//!
//! ## Design notes
//!
//! * **Errors say what to fix.** Token errors keep the AADSTS code and trace
//!   id (unknown tenant, unknown application, wrong or expired secret,
//!   rejected certificate); Graph errors keep the Graph code and request id;
//!   a 403 names the missing permission, and `check()` tells an application
//!   id given in place of the service principal's object id.
//! * **Certificates** sign an RS256 client assertion with both `x5t` (SHA-1)
//!   and `x5t#S256` thumbprints, fresh for every token request.
//! * **Pages and links.** Users and groups use `$select` and `$top=999`;
//!   `@odata.nextLink` is followed verbatim by directory-core's paginator
//!   (`http::Listing`), only on the Graph origin and the listing's path, and
//!   a link that repeats is an error, not a loop. Requests take
//!   directory-core's one authorized path (`http::AuthorizedClient`): a
//!   bearer token from the cache, refreshed once on a 401.
//! * **Nesting** is walked over `/members` breadth first, each group once, so
//!   cycles end; devices and service principals are skipped. App assignment
//!   to a group covers its direct members only, as in Entra.
//! * **Throttling** (429/503 with `Retry-After`) goes through the one retry
//!   loop of `directory-core`; concurrency is bounded. With
//!   [`AzureDirectoryBuilder::resource_unit_budget`] the client also paces
//!   itself by Graph's resource-unit costs (`wire::resource_units`) so it stays
//!   under the tenant's limit instead of recovering from 429s.
//! * **Delta** keeps the nested-group edges in the state, so applying a delta
//!   recomputes transitive memberships without fetching every group. A first
//!   `delta_sync(None)` is usually a cheaper full sync too: `groups/delta` with
//!   `members@delta` brings every membership without a request per group.
//!   Delta rounds page through the core paginator like every listing: their
//!   next and delta links stay on the round's listing, and a repeated link,
//!   endless empty pages or the same page under fresh links end the round
//!   with an error.
//! * **Decoding** is public for tests and benchmarks, with feature
//!   `testkit`: `wire::users_page`, `wire::groups_page`,
//!   `wire::members_page`.
//!
//! ## Feature flags
//!
//! * `testkit`: [`testkit`], the simulated tenant (axum on tokio), and
//!   `wire`: the page decoders, `$select` lists and resource-unit costs
//!   that tests and benchmarks measure. Without it the crate exports only
//!   the provider, its builder, credentials, cloud and delta types.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

mod apply;
mod auth;
mod builder;
mod check;
mod client;
mod cloud;
mod credential;
mod decode;
mod delta;
mod errors;
mod members;
mod provider;
mod ratelimit;
mod user;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use builder::{AzureDirectoryBuilder, MAX_PAGE_SIZE};
pub use cloud::Cloud;
pub use credential::{ClientCertificate, ClientCredential};
pub use decode::DEFAULT_ACCESS_ROLE;
pub use delta::{AssignedPrincipal, DeltaOutcome, DeltaReset, DeltaState, DirectoryChanges};
pub use provider::AzureDirectory;

/// Wire-level pieces for benchmarks and fault tests (feature `testkit`):
/// the page decoders (each returns the items and the `@odata.nextLink`),
/// the `$select` lists and Graph's resource-unit cost of a request. Named
/// as `okta_directory::wire`'s.
#[cfg(feature = "testkit")]
pub mod wire {
    pub use crate::decode::{
        decode_groups_page as groups_page, decode_members_page as members_page,
        decode_users_page as users_page, GROUP_SELECT, USER_SELECT,
    };
    pub use crate::ratelimit::resource_units;
}
