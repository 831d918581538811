//! The cross-provider fault suite (issue 8): every fault a directory API can
//! throw at a sync, run against both simulated orgs (Okta and Entra), each
//! case asserting its outcome: a complete snapshot equal to the org's ground
//! truth, or a typed error. Never a partial snapshot, a panic or a hang (each
//! case runs under a time limit).
//!
//! * `transport`: 429 storms, 5xx, stalls past the timeout, cut bodies.
//! * `paging`: truncated and malformed JSON, empty pages, cycling and
//!   foreign next links.
//! * `auth`: tokens expiring mid-sync, a token endpoint that is down, clock
//!   skew on a token's expiry.
//! * `changes`: the directory changing between two syncs in every way a
//!   user can change, planned by recipient-reconcile.
//! * `safety`: an empty directory, and a fault on the last page of group
//!   memberships: no plan, no record deactivated.
//! * `parsers`: property tests that nothing a server sends panics a parser.
//! * `secrets`: no secret in any output, no credential to another host,
//!   `http://` refused outside test mode, bounded requests.

mod orgs;

mod auth;
mod changes;
mod host;
mod hosts;
mod paging;
mod parsers;
mod safety;
mod secrets;
mod transport;
mod wire;
mod world;
