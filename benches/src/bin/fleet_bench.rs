//! The fleet bench (issue 17): tenants on simulated orgs synced by worker
//! processes of `sync-runner` on one PostgreSQL database, in two passes
//! (full, then incremental after ~1% changed), beside their floors.
//!
//! `cargo run --release -p directory-sync-benches --bin fleet-bench`
//! runs the issue's 1,000 tenants (about a million users). `BENCH_FLEET_TENANTS`,
//! `BENCH_FLEET_ORGS` (simulated orgs, tenants sharing them), `BENCH_FLEET_WORKERS`,
//! `BENCH_FLEET_CONCURRENCY` and `BENCH_LATENCY_MS` vary it. The database
//! comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! the bench works in a schema of its own, dropped at the end.
//!
//! The workers are this program again, started with `FLEET_BENCH_WORKER`.

use std::process::ExitCode;
use std::time::Duration;

use directory_sync_benches::fleet::{self, FleetSize, WORKER_ENV};
use directory_sync_benches::fleet_table;
use directory_sync_benches::table::{machine, render};

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn size() -> FleetSize {
    let issue = FleetSize::issue();
    let tenants = env_number("BENCH_FLEET_TENANTS")
        .unwrap_or(issue.tenants)
        .max(1);
    FleetSize {
        tenants,
        orgs: env_number("BENCH_FLEET_ORGS")
            .unwrap_or(tenants)
            .clamp(1, tenants),
        workers: env_number("BENCH_FLEET_WORKERS")
            .unwrap_or(issue.workers)
            .max(1),
        concurrency: env_number("BENCH_FLEET_CONCURRENCY")
            .unwrap_or(issue.concurrency)
            .max(1),
        latency: env_number("BENCH_LATENCY_MS")
            .map_or(issue.latency, |ms| Duration::from_millis(ms as u64)),
        ..issue
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    if let Ok(id) = std::env::var(WORKER_ENV) {
        return match fleet::worker_main(&id).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fleet-bench worker {id}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let size = size();
    println!(
        "machine: {}; load average at the start: {}",
        machine(),
        load_average()
    );
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fleet-bench: where am I? {e}");
            return ExitCode::FAILURE;
        }
    };
    match fleet::run(size, &exe).await {
        Ok(figures) => {
            println!(
                "simulated orgs started in {}; load average at the end: {}",
                directory_sync_benches::table::secs(figures.setup),
                load_average()
            );
            println!("\n{}", render(&fleet_table::rows(&figures)));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleet-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
