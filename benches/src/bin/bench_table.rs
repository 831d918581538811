//! Prints the benchmark figures beside their floors as one Markdown table.
//!
//! `cargo run --release -p directory-sync-benches --bin bench-table`
//! (set `BENCH_SCALE=1` for the 1,000,000 x 10 streaming case,
//! `BENCH_SMALL=1` for a 10,000-user fetch, `BENCH_FETCH_ONLY=1` to skip reconcile,
//! `BENCH_LATENCY_MS` and `BENCH_CONCURRENCY` to vary the fetch).

use directory_sync_benches::fetch::OrgSize;
use directory_sync_benches::table::{machine, render};
use directory_sync_benches::{decode_table, fetch_table, reconcile_table};
use peak_alloc::PeakAlloc;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn main() {
    println!("machine: {}", machine());
    let size = if std::env::var("BENCH_SMALL").is_ok_and(|v| v == "1") {
        OrgSize {
            users: 10_000,
            groups: 200,
            app_users: 500,
            ..OrgSize::issue()
        }
    } else {
        OrgSize::issue()
    };
    let size = match std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(ms) => OrgSize {
            latency: std::time::Duration::from_millis(ms),
            ..size
        },
        None => size,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let mut rows = runtime.block_on(fetch_table::rows(size, &PEAK));
    rows.extend(runtime.block_on(decode_table::rows()));
    if std::env::var("BENCH_FETCH_ONLY").is_err() {
        rows.extend(reconcile_table::rows(&PEAK));
    }
    println!("\n{}", render(&rows));
}
