//! # okta-directory
//!
//! Pulls a customer's Okta directory (users, groups, group members and the
//! users assigned to their SAML app) through the Okta Management API, as a
//! [`directory_core::DirectoryProvider`]. It authenticates as an
//! "API Services" app with OAuth 2.0 client credentials and a private JWK
//! (`private_key_jwt`), with DPoP when the app requires it (the default for
//! new service apps: the admin never has to turn it off).
//!
//! ## Main types
//!
//! * [`OktaDirectory`]: the provider. Streams users (deprovisioned ones
//!   included), groups, members and SAML app users page by page; runs
//!   `check()`; gives incremental hints
//!   ([`OktaDirectory::users_changed_since`],
//!   [`OktaDirectory::groups_changed_since`]).
//! * [`OktaDirectoryBuilder`]: the configuration, validated field by field
//!   in `build()`; [`OktaDirectoryBuilder::from_env`] reads it from the
//!   environment ([`OktaDirectoryBuilder::from_env_with`] through a
//!   closure). Its settings are named and mean as `azure-directory`'s:
//!   `max_concurrency` (requests in flight), `member_concurrency`,
//!   `page_size`, `retry_policy`, `timeout`, `credential`.
//! * [`PrivateJwk`]: the app's private key (RSA or EC P-256, with `kid`);
//!   never printed.
//! * [`testkit`] (feature `testkit`): a simulated Okta org on 127.0.0.1.
//!
//! ## Use
//!
//! The customer enters their Okta domain, the API Services app's client id,
//! its private key as JWK JSON, and the SAML app's id. Grant the app the
//! scopes `okta.users.read`, `okta.groups.read` (and `okta.apps.read` with an
//! app id) and an admin role such as Read-Only Administrator. Granting
//! `okta.logs.read` too and building with
//! [`system_log(true)`](OktaDirectoryBuilder::system_log) lets incremental
//! rounds see deletions (see "Incremental sync" below).
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use directory_core::{DirectoryProvider, DirectoryProviderExt};
//! use okta_directory::OktaDirectory;
//! # let org = okta_directory::testkit::OktaOrg::builder().users(250).start().await.unwrap();
//! # let (domain, client_id, jwk, app_id) =
//! #     (org.base_url(), org.client_id(), org.private_jwk(), org.app_id());
//!
//! let okta = OktaDirectory::builder()
//!     .domain(domain) // "acme.okta.com" for a real org
//!     .client_id(client_id)
//!     .private_jwk(jwk)
//!     .app_id(app_id)
//! #   .allow_insecure_http(true) // the simulated org speaks http on 127.0.0.1
//!     .build()
//!     .unwrap();
//!
//! let report = okta.check().await; // every problem at once, each with its fix
//! assert!(report.is_ok(), "{report}");
//! let snapshot = okta.snapshot().await.unwrap(); // complete, or an error
//! # assert!(snapshot.same_directory(&org.ground_truth()));
//! println!("{} users, {} app users", snapshot.users.len(), snapshot.app_assignments.len());
//! # }
//! # #[cfg(not(feature = "testkit"))]
//! # fn main() {}
//! ```
//!
//! From the environment: `OKTA_DOMAIN`, `OKTA_CLIENT_ID`, `OKTA_PRIVATE_JWK`
//! (the JWK JSON) or `OKTA_PRIVATE_JWK_FILE` (a file holding it), and
//! optionally `OKTA_APP_ID` (see [`env`](mod@env)).
//!
//! ## Design notes
//!
//! * **Auth.** Every token request carries a freshly signed client assertion
//!   (`iss = sub = client id`, `aud` = the token URL, five-minute `exp`,
//!   unique `jti`, `kid` from the JWK; RS256 or ES256 by key type). If Okta
//!   answers `invalid_dpop_proof` the provider switches to DPoP: proofs are
//!   signed with a P-256 key made for this provider (separate from the
//!   client key, as Okta requires), the `use_dpop_nonce` answer and the
//!   `DPoP-Nonce` header are followed (nonces kept per server, token
//!   endpoint and resource server apart), and each request gets a new proof
//!   (`htm`, `htu` without query, `ath`, unique `jti`) with
//!   `Authorization: DPoP`. The token is cached by directory-core's
//!   `TokenCache`, refreshed five minutes before expiry and once on a 401
//!   (directory-core's one authorized path, `http::AuthorizedClient`).
//! * **Paging.** The largest page sizes each endpoint allows (users 200,
//!   groups 10,000, members 1,000, app users 500); `Link rel="next"` is
//!   followed verbatim by directory-core's paginator (`http::Listing`), only
//!   on the configured origin and the listing's path; a next link that
//!   repeats a page is an error, not a loop. Okta's plain user list omits
//!   `DEPROVISIONED` users, so `users()` follows it with a filtered listing.
//! * **Rate limits.** A 429 waits until `X-Rate-Limit-Reset` by the server's
//!   `Date` (plus a second); a concurrency 429 (limit and remaining both 0)
//!   backs off instead; the retry names the refused request in
//!   `X-Okta-Retry-For` and `X-Okta-Retry-Count`. Requests in flight stay below the org's concurrency
//!   limit, and a configurable share of every bucket and of the concurrency
//!   limit is left for the customer's other integrations.
//! * **Errors** say what the admin must fix, keep Okta's `errorCode` (or
//!   OAuth `error`) and `X-Okta-Request-Id`, and read `WWW-Authenticate` for
//!   scope and DPoP problems that come with an empty body.
//! * **Decoding is lenient**: unknown statuses and group types are kept as
//!   `Other`, unmapped profile attributes land in `custom_attributes`, nulls
//!   are tolerated, and a malformed page is an error naming the JSON path.
//! * **Incremental sync** (`DirectoryProviderExt::sync`): a round after a
//!   full one reads users with `lastUpdated ge`, groups with `lastUpdated` or
//!   `lastMembershipUpdated ge` and just their members, and the app's users
//!   in full, from the previous round's start by Okta's `Date` header less a
//!   two-minute overlap. Deleted users and groups vanish from those filters.
//!   With `system_log(true)` and `okta.logs.read` granted, the round also
//!   reads the System Log (`user.lifecycle.delete.completed`,
//!   `group.lifecycle.delete`) over the same window and drops them; when the
//!   log cannot be trusted (unreadable, the previous round past its 90-day
//!   retention, Okta's clock gone back, the previous round without it) the
//!   round is full and says why. Without it, deletions wait for the
//!   scheduled full round: a missed deletion delays a deactivation, never
//!   causes one. `check()` names the mode the grants allow. Asking for a
//!   scope is opt-in because Okta may refuse a token request that names a
//!   scope the app was not granted; a token granted without it (Okta lists
//!   the granted scopes) falls back to full rounds for deletions.
//!
//! ## Feature flags
//!
//! * `testkit`: [`testkit::OktaOrg`], a simulated Okta org (axum on tokio)
//!   that verifies client assertions and DPoP proofs for real, with fault
//!   injection, for tests, examples and benchmarks; and [`wire`], the page
//!   decoders and rate-limit buckets those measure. Without it the crate
//!   exports only the provider, its builder and its key type.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

mod auth;
mod builder;
mod check;
mod client;
mod credential;
mod decode;
mod errors;
mod incremental;
mod provider;
mod ratelimit;
mod systemlog;

pub use builder::{env, DpopMode, OktaDirectoryBuilder, PageLimits};
pub use credential::PrivateJwk;
pub use provider::OktaDirectory;

#[cfg(feature = "testkit")]
pub mod testkit;

/// Wire-level pieces for benchmarks and fault tests (feature `testkit`):
/// the page decoders the provider uses, and the rate-limit bucket of a path.
/// Named as `azure_directory::wire`'s.
#[cfg(feature = "testkit")]
pub mod wire {
    pub use crate::decode::{app_users_page, groups_page, members_page, users_page};
    pub use crate::ratelimit::bucket_of;
}
