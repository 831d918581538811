//! Shared by the `sync_fleet` example and the runner's multi-process test.
#![allow(dead_code)]

pub mod fleet;
pub mod providers;
