//! # directory-core
//!
//! The foundation of the directory-sync crate family: the provider-neutral
//! model of a directory (users, groups, memberships, SSO app assignments), the
//! [`DirectoryProvider`] trait that Okta, Microsoft Graph and a SCIM store
//! implement, complete [`Snapshot`] collection, one classified [`Error`], and
//! (feature `http`) the HTTP machinery every provider shares.
//!
//! ## Main types
//!
//! * [`DirectoryUser`], [`DirectoryGroup`], [`Membership`], [`AppAssignment`]:
//!   the model, named after SCIM core + enterprise user attributes. It is
//!   kept compact for directories of a million users: optional text is a
//!   `Box<str>`, and [`Attributes`] (whatever a provider sent beyond the
//!   standard attributes) is one sorted vector sized to its entries.
//! * [`DirectoryProvider`]: paginated, lazy, `'static` streams of each kind,
//!   and `check()` that reports every configuration problem at once.
//!   [`DirectoryProviderExt`] adds conveniences to every provider.
//! * [`Snapshot`]: a complete, closed directory, or an error. Never a
//!   partial one.
//! * [`InMemoryDirectory`]: a provider over data in memory, with paging and
//!   failure injection, for tests and examples.
//! * [`Error`] / [`ErrorKind`]: what went wrong, in terms of what the admin
//!   must fix, with the provider's code and request id.
//! * [`SecretString`]: secrets that never print.
//!
//! ## Use
//!
//! ```
//! use directory_core::{
//!     CollectOptions, DirectoryGroup, DirectoryUser, InMemoryDirectory, Membership, Snapshot,
//! };
//! # futures::executor::block_on(async {
//! let dir = InMemoryDirectory::builder("acme")
//!     .user(DirectoryUser::new("u1", "ada@acme.test").with_email("ada@acme.test", true))
//!     .group(DirectoryGroup::new("g1", "Berlin office"))
//!     .membership(Membership::direct("g1", "u1"))
//!     .build();
//! let opts = CollectOptions::default().with_progress(|p| {
//!     let _ = (p.kind, p.pages, p.items);
//! });
//! let snapshot = Snapshot::collect(&dir, &opts).await.unwrap();
//! assert_eq!(snapshot.user("u1").unwrap().primary_email(), Some("ada@acme.test"));
//! assert_eq!(snapshot.memberships.len(), 1);
//! # });
//! ```
//!
//! ## Design notes
//!
//! * **Complete or nothing.** [`Snapshot::collect`] returns the first error of
//!   any stream; a reconcile never sees a directory with missing pages, which
//!   is how records get deactivated by mistake.
//! * **Closed, whatever made it.** Every way of making a [`Snapshot`]
//!   (collection, [`Snapshot::from_parts`], deserialization) ends in one
//!   closing step: lists sorted and de-duplicated (so lookups can
//!   binary-search, even after JSON in any order), and every membership and
//!   assignment referring to a listed user and group. What it drops is
//!   counted in [`Snapshot::dropped`] ([`Dropped`] says what each kind of
//!   reference becomes); what could hide an incomplete group list is an error
//!   instead.
//! * **Pages, not items.** Provider streams yield whole pages so progress can
//!   count them and memory stays bounded by a page per stream.
//! * **Pagination and retry live once.** A provider writes "fetch one page for
//!   this cursor" and [`paginate`] makes the stream (refusing cursors that
//!   repeat). With `http`, [`http::HttpClient::execute`] is the one retry loop;
//!   a provider only says what a response means for waiting.
//! * **Memberships once.** Collection walks `group_members` per group, a
//!   bounded number at a time; a provider with nested groups can offer
//!   [`DirectoryProvider::memberships`] instead, reading each group once and
//!   resolving nesting locally (the conformance suite checks both agree).
//! * **Nesting and app grants resolved once.** [`resolve_nested`] (or
//!   [`NestingWalk`], for members read page by page) is the one nested-group
//!   walk: direct wins, each group once, cycles end. [`expand_grants`] is
//!   the one expansion of app-assigned groups into their direct members.
//! * **Tokens and failures read once.** With `http`,
//!   [`http::AccessToken::from_token_response`] decodes every token answer
//!   (a lenient `expires_in`, errors never quoting the body),
//!   [`http::ClientAssertionClaims`] are the RFC 7523 claims every
//!   `private_key_jwt` assertion signs, and [`http::ResponseFailure`] turns
//!   a provider's error answer into an [`Error`] (status, code, request id,
//!   a bounded excerpt).
//! * **One path for a request, a page and a token.** With `http`:
//!   - *A token* comes from the provider's [`http::TokenSource`] (its
//!     client-credentials flow, decoded by
//!     [`http::AccessToken::from_token_response`]) through one
//!     [`http::TokenCache`]: read without a lock while fresh, one shared
//!     refresh when stale, dropped when a server answers 401.
//!   - *A request* goes through [`http::AuthorizedClient::get`]: the URL
//!     must be on the configured origin; the provider's budget is waited
//!     for ([`http::Authorize::pace`]); the token is taken from the cache;
//!     [`http::HttpClient::try_execute`] sends it with bounded concurrency,
//!     no redirects and the one retry loop, each attempt authorized afresh
//!     by the provider's scheme ([`http::Authorize::authorize`]: `Bearer`
//!     by default, or DPoP with a proof per attempt) with the `Authorization`
//!     header marked sensitive ([`http::authorization`]); a refused answer
//!     may ask for one retry at once (a DPoP nonce,
//!     [`http::Authorize::retry_at_once`]), and a 401 drops the token and
//!     starts over once. Every error names the provider. The final answer
//!     comes back whatever its status, and the provider turns an error body
//!     into a typed [`Error`] (with [`http::ResponseFailure`]).
//!   - *A page* is read by [`http::Listing::pages_from`]: the provider's
//!     fetch reads one page and says where the next one is (its cursor
//!     function: Okta's `Link rel="next"` header, Graph's `@odata.nextLink`
//!     or, ending a delta round, `@odata.deltaLink`); every link is checked
//!     to stay on the listing's origin and path ([`http::Listing::link`]),
//!     and [`paginate`] ends a stream whose cursor repeats, whose empty
//!     pages never end or whose page repeats under fresh cursors. Listings
//!     and delta rounds alike: no provider loops over pages by itself.
//! * **Why the token flow is hand-written.** The crate family's brief named
//!   the `oauth2` crate. It is not used: it has no DPoP (RFC 9449), and its
//!   error type hides the headers of an error answer, so the `DPoP-Nonce`
//!   that Okta sends with a `use_dpop_nonce` error (and expects back in the
//!   next proof) cannot be read. A client-credentials request is one form
//!   POST; directory-core supplies the rest once (the token decoder, the
//!   RFC 7523 assertion claims, the cache, the error constructor).
//! * **No HTTP unless asked.** Without the `http` feature this crate compiles
//!   no reqwest or tokio, so a host that only reconciles stays small.
//!
//! ## Adding a provider
//!
//! A new provider (Google Workspace, JumpCloud, a SCIM client) is a folder
//! of its own code on top of this crate. It writes exactly:
//!
//! 1. **credential**: its secret or key types (kept in [`SecretString`]),
//!    and, for `private_key_jwt`, signing [`http::ClientAssertionClaims`].
//! 2. **auth**: an [`http::TokenSource`], the token request (a form POST
//!    through [`http::HttpClient::try_execute`], the answer decoded by
//!    [`http::AccessToken::from_token_response`]) and its token error codes
//!    mapped to [`ErrorKind`]s that say what to fix.
//! 3. **client**: an [`http::Authorize`] (often only `type Hint =
//!    `[`http::RetryAfter`]: `Bearer` is the default; override
//!    `authorize` for another scheme or a proof, `retry_at_once` for a
//!    nonce, `pace`/`observe` for a client-side budget), an
//!    [`http::AuthorizedClient`] built from it, and the function that
//!    turns an error answer into an [`Error`] with
//!    [`http::ResponseFailure`].
//! 4. **cursor**: where a page says the next one is, returned as the
//!    [`Page::next`] of the fetch it gives [`http::Listing::pages_from`].
//! 5. **decode**: its wire types to [`DirectoryUser`], [`DirectoryGroup`],
//!    [`Membership`] and [`AppAssignment`].
//! 6. **check**: [`DirectoryProvider::check`], one probe per permission,
//!    each error naming the permission to grant.
//! 7. **builder**: its own settings (plain setters through
//!    [`builder_setters!`]) beside the shared [`http::ClientSettings`]
//!    (setters from [`client_settings_setters!`], the same names and
//!    meaning as Okta's and Entra's), validated with
//!    [`http::ClientSettings::validate`], [`http::in_range`] and
//!    [`http::parse_endpoint`], building the [`http::HttpClient`].
//!
//! 8. **testkit** (a `testkit` feature): a simulated organisation on
//!    127.0.0.1 that speaks the API's wire format, implementing
//!    [`testing::SimulatedDirectory`] (a provider on it, its ground truth,
//!    request counts, the neutral [`testing::Fault`]s on each
//!    [`testing::Target`] in its own terms, the neutral
//!    [`testing::Misconfiguration`]s, token revocation, the neutral
//!    [`testing::Change`]s to its directory) and, for a value that starts
//!    one from an [`testing::OrgSpec`], [`testing::SimulatorKind`]. Add that
//!    value to the fault suite's `Kind` (`examples/tests/faults/orgs.rs`)
//!    and every fault case runs against the new provider too.
//!
//! Nesting ([`resolve_nested`]), app-grant expansion ([`expand_grants`]),
//! retries, the token cache, the origin guard, pagination bounds and
//! snapshot collection are not written again; the conformance suite
//! ([`testing`], feature `testing`) checks the result, and the fault suite
//! checks it under every fault a server can throw.
//!
//! ## Feature flags
//!
//! * `http`: the shared HTTP machinery (reqwest with rustls, tokio timers).
//! * `testing`: the conformance suite ([`testing`]) any provider can run, and
//!   [`testing::CapturedLogs`] for tests that search the logs (with `http`,
//!   [`testing::RetryLog`]: the waits the HTTP client chose, read from its
//!   logs, for timing tests that read no clock; and the provider-neutral
//!   simulator interface, [`testing::SimulatedDirectory`], that every
//!   provider's testkit implements).

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

mod attributes;
mod error;
mod incremental;
mod memory;
mod model;
mod nesting;
mod pagination;
mod provider;
mod secret;
mod snapshot;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "testing")]
pub mod testing;

pub use attributes::Attributes;
pub use error::{Error, ErrorKind, Result};
pub use incremental::{
    FullReason, OwnedPreviousRound, PreviousParts, PreviousRound, PreviousSnapshot, ProviderRound,
    RoundKind, SnapshotChanges, SyncOptions, SyncReport, SyncRound, SyncState, SYNC_STATE_VERSION,
};
pub use memory::{DirectoryData, InMemoryDirectory, InMemoryDirectoryBuilder, InjectedFailure};
pub use model::{
    Address, AppAssignment, AppGrant, AssignedVia, DirectoryGroup, DirectoryUser, Email, GroupKind,
    Manager, Membership, MembershipKind, PersonName, PhoneNumber, UserStatus,
};
pub use nesting::{expand_grants, group_grant_assignments, resolve_nested, NestingWalk};
pub use pagination::{paginate, Page, MAX_EMPTY_PAGES_IN_A_ROW, MAX_REPEATED_PAGES};
pub use provider::{
    flatten_pages, CheckReport, DirectoryProvider, DirectoryProviderExt, Pages, Probe,
};
pub use secret::{constant_time_eq, SecretString};
pub use snapshot::{CollectOptions, Dropped, Progress, ProgressFn, ResourceKind, Snapshot};
