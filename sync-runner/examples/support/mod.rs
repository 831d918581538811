//! Shared by the `sync_fleet` example, the runner's multi-process test and
//! the fleet benchmark (`benches/src/fleet.rs`).
#![allow(dead_code)]

pub mod fleet;
pub mod observe;
pub mod orgs;
pub mod providers;
