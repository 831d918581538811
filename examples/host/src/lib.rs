//! The host side of the runnable examples: progress bars for snapshot
//! collection, plain-text reports, a SQLite host that applies plans, and the
//! check / collect / plan / apply flow the real-org programs run.
//!
//! The programs of this package run against real orgs, configured from the
//! environment, with `--dry-run`:
//!
//! * `okta_sync`: `cargo run --example okta_sync -- --dry-run`
//! * `azure_sync`: `cargo run --example azure_sync -- --dry-run`
//!
//! This package depends on the providers without their `testkit` feature,
//! so these programs compile neither the simulated orgs nor axum. The demo
//! on simulated orgs lives in `directory-sync-examples`, which re-exports
//! these modules.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

pub mod progress;
pub mod report;
pub mod run;
pub mod sqlite;
