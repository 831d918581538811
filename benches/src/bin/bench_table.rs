//! Prints the benchmark figures beside their floors as one Markdown table.
//!
//! `cargo run --release -p directory-sync-benches --bin bench-table`
//! (set `BENCH_SCALE=1` for the 1,000,000 x 10 streaming case).

use directory_sync_benches::reconcile_table;
use directory_sync_benches::table::{machine, render};
use peak_alloc::PeakAlloc;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn main() {
    println!("machine: {}", machine());
    let rows = reconcile_table::rows(&PEAK);
    println!("\n{}", render(&rows));
}
