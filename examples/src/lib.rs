//! The demo on simulated orgs, and the host side of the runnable examples
//! (re-exported from `directory-sync-host`: progress bars for snapshot
//! collection, plain-text reports, a SQLite host that applies plans, and the
//! check / collect / plan / apply flow the real-org programs run).
//!
//! The programs of this package:
//!
//! * `demo`: the whole flow on the simulated Okta org and Entra tenant, with
//!   no credentials (`cargo run --example demo`).
//! * `sqlite_host`: a host whose recipients live in a SQLite file, showing
//!   one-transaction apply, idempotence and the CSV ownership rules.
//!
//! `okta_sync` and `azure_sync`, the same flow against a real org, are
//! programs of `directory-sync-host` (`cargo run --example okta_sync --
//! --dry-run`), which compiles neither the simulated orgs nor axum.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

pub mod demo;
pub mod host_demo;

pub use directory_sync_host::{progress, report, run, sqlite};

/// The README's code, compiled and run as doc tests so it stays true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
