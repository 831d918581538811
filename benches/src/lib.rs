//! Benchmark scenarios shared by the criterion benches and the `bench-table`
//! command that prints the figures beside their floors.

pub mod decode;
pub mod decode_table;
pub mod fetch;
pub mod fetch_table;
pub mod fleet;
pub mod fleet_table;
pub mod incremental;
pub mod reconcile;
pub mod reconcile_table;
// The host's side of sync-runner's workers (records and apply log in
// PostgreSQL, named secrets, provider factory), shared with its
// `sync_fleet` example and multi-process test.
#[path = "../../sync-runner/examples/support/mod.rs"]
mod runner_support;
pub mod scim_load;
pub mod table;
