//! The SCIM load run at a small size, so CI exercises it: two real
//! `scim_server` processes on one PostgreSQL database, Okta's and Entra's
//! request mix for 4 tenants. Correctness only (no time is asserted):
//! nothing lost or twice, no 5xx, one 201 per contended userName.
//! Needs `DATABASE_URL`; skipped with a message without it.

use directory_sync_benches::scim_load::{run, LoadConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_under_okta_and_entra_traffic_lose_and_duplicate_nothing() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "skipped the SCIM load run: DATABASE_URL is not set; start PostgreSQL and set it \
             (see scim-directory/README.md)"
        );
        return;
    };
    let config = LoadConfig::small(url);
    let report = run(&config).await.unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let c = &config;
    assert_eq!(report.contended, c.tenants * c.contended_per_tenant);
    assert_eq!(report.contended_failures, 0);
    // Per tenant: both clients' users and the contended winners; their
    // groups and the shared one.
    let users = c.tenants * (2 * c.users_per_client + c.contended_per_tenant);
    let groups = c.tenants * (2 * c.groups_per_client + 1);
    assert_eq!((report.verified.0, report.verified.1), (users, groups));
    assert!(
        report.verified.2 > 0,
        "memberships were written and read back"
    );
    assert_eq!(report.tenants.len(), c.tenants);
    let imported: Vec<usize> = report.imports.iter().map(|i| i.read).collect();
    assert_eq!(imported, c.import_sizes, "each import read every user once");
    if cfg!(target_os = "linux") {
        assert!(report.imports.iter().all(|i| i.peak_rss.is_some()));
    }
    assert!(report.tenants.iter().all(|t| t.requests > 0));
}
