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
//! * `secrets`: no secret in any `Debug`, `Display`, error or TRACE output.
//! * `hosts`: no credential to another host (redirects, next links), each
//!   configured host gets only its own credential, `http://` refused
//!   outside test mode.
//! * `bounds`: a misbehaving server gets a bounded number of requests, and
//!   an oversized page is refused.
//! * `waits`: the largest wait a server can ask for, on a slow answer:
//!   capped at the retry deadline, a typed error, never a panic.
//! * `delta`: Entra delta rounds under the listings' faults and bounds.
//! * `misconfig`: the set-up mistakes every provider has, reported by
//!   `check()` until undone.
//!
//! Both orgs are driven through one interface,
//! `directory_core::testing::SimulatedDirectory`: `orgs` holds the suite's
//! org shape, provider settings and assertions, `world` is a small
//! directory both orgs serve (and every way it can change), `host` the host
//! side of a sync, `wire` either API faked by wiremock.

mod orgs;

mod auth;
mod bounds;
mod changes;
mod delta;
mod host;
mod hosts;
mod misconfig;
mod paging;
mod parsers;
mod safety;
mod secrets;
mod transport;
mod waits;
mod wire;
mod world;
