//! The fleet bench at a small size, so CI exercises it: 30 tenants on
//! simulated Okta orgs and Entra tenants, three `fleet-bench` worker
//! processes on one PostgreSQL database, a full pass and an incremental one
//! after ~1% changed. Counts only (no time is asserted): every tenant synced
//! once a pass, none failed, the second pass incremental and within twice
//! its requests' floor. Needs `DATABASE_URL`; skipped with a message without it.

use std::path::Path;
use std::time::Duration;

use directory_sync_benches::fleet::{run, FleetSize};
use directory_sync_benches::fleet_table::rows;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_sync_30_tenants_twice() {
    if std::env::var("DATABASE_URL").is_err() {
        eprintln!(
            "skipped the fleet bench run: DATABASE_URL is not set; start PostgreSQL and set it, \
             e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (see README.md)"
        );
        return;
    }
    let size = FleetSize {
        tenants: 30,
        orgs: 10,
        max_users: 500,
        latency: Duration::from_millis(5),
        concurrency: 2,
        ..FleetSize::issue()
    };
    let f = run(size, Path::new(env!("CARGO_BIN_EXE_fleet-bench")))
        .await
        .unwrap();
    assert_eq!(f.users, size.total_users());
    assert_eq!(f.largest_users, 500);
    for (name, pass) in [("first", &f.first), ("second", &f.second)] {
        assert_eq!((pass.runs, pass.tenants), (30, 30), "{name} pass: {pass:?}");
        assert_eq!((pass.failed, pass.held), (0, 0), "{name} pass: {pass:?}");
        assert!(
            pass.requests > 0 && pass.served >= pass.requests as u64,
            "{name} pass: {pass:?}"
        );
        assert!(
            pass.floor > Duration::ZERO && pass.floor_requests > 0,
            "{name} pass: {pass:?}"
        );
    }
    assert_eq!((f.first.full, f.first.incremental), (30, 0));
    assert_eq!((f.second.full, f.second.incremental), (0, 30));
    // The first pass creates a record per present user; the second
    // applies the ~1% changed (at least one new title per org).
    assert!(f.first.applied_ops as usize >= f.users / 2, "{f:?}");
    assert!(f.second.applied_ops >= 10, "{f:?}");
    assert!(
        f.second.requests as u64 <= 2 * f.second.floor_requests,
        "{f:?}"
    );
    assert_eq!(f.peak.len(), 3);
    assert!(
        f.peak
            .iter()
            .zip(&f.idle_rss)
            .all(|(p, i)| p >= i && *i > 0),
        "{f:?}"
    );
    assert!(
        f.db_bytes >= f.db_bytes_first && f.db_bytes_first > 0 && f.snapshot_gz > 0,
        "{f:?}"
    );
    let table = rows(&f);
    assert_eq!(table.len(), 6);
    assert_eq!(table[0].met, Some(true), "{:?}", table[0]);
    assert_eq!(table[4].met, Some(true), "{:?}", table[4]);
}
