//! Shared parts of the runnable examples: progress bars for snapshot
//! collection, plain-text reports, a SQLite host that applies plans, and the
//! check / collect / plan / apply flow the real-org examples run.
//!
//! The programs themselves are the examples of this package:
//!
//! * `demo`: the whole flow on the simulated Okta org and Entra tenant, with
//!   no credentials (`cargo run --example demo`).
//! * `okta_sync`, `azure_sync`: the same against a real org, configured from
//!   the environment, with `--dry-run`.
//! * `sqlite_host`: a host whose recipients live in a SQLite file, showing
//!   one-transaction apply, idempotence and the CSV ownership rules.

#![warn(missing_docs)]
// Library code never panics on bad input; tests may.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod demo;
pub mod host_demo;
pub mod progress;
pub mod report;
pub mod run;
pub mod sqlite;

/// The README's code, compiled and run as doc tests so it stays true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
