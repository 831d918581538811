//! Benchmark scenarios shared by the criterion benches and the `bench-table`
//! command that prints the figures beside their floors.

#![warn(missing_docs)]

pub mod decode;
pub mod decode_table;
pub mod fetch;
pub mod fetch_table;
pub mod incremental;
pub mod reconcile;
pub mod reconcile_table;
pub mod scim_load;
pub mod table;
