//! The SQLite host on a real SQLite file: plans apply in one transaction, a
//! second run changes nothing, and the ownership rules hold.

use directory_core::{DirectoryProviderExt, DirectoryUser, InMemoryDirectory};
use directory_sync_examples::host_demo::run_host_demo;
use directory_sync_examples::run::plan_host;
use directory_sync_examples::sqlite::SqliteHost;
use recipient_reconcile::{Location, Policy};

#[tokio::test]
async fn walkthrough_applies_then_finds_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_host_demo(&dir.path().join("host.sqlite"), dir.path())
        .await
        .unwrap();
    // Ada (ber), Vera (ber) and Grace (Munich) from the CSV; line 4 is bad.
    assert_eq!(out.csv_created, 3);
    assert_eq!(out.csv_row_errors, vec![4]);
    // Six directory users; Dana is suspended and Ada/Grace match CSV records
    // the strict policy may not adopt.
    assert!(out.first_sync_operations > 0);
    assert!(out.first_sync_conflicts >= 2, "{out:?}");
    assert_eq!(
        out.second_sync_operations, 0,
        "the second run must change nothing"
    );
    assert!(
        out.adopt_operations >= 2,
        "adopting Ada's and Grace's CSV records: {out:?}"
    );
    // Edsger left: deactivated in both locations.
    assert_eq!(out.leaver_operations, 2);
    assert_eq!(
        out.csv_after_sync_updates, 0,
        "CSV may not update directory-owned records"
    );
    assert_eq!(
        out.csv_after_sync_refused,
        vec![2],
        "Alan's row: a row error with its line"
    );
    assert_eq!(out.runs, 6);
}

#[tokio::test]
async fn a_plan_applies_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.sqlite");
    let mut host = SqliteHost::open(&path).unwrap();
    host.upsert_location(&Location::new("ber", "Berlin"))
        .unwrap();
    let directory = InMemoryDirectory::builder("t")
        .user(DirectoryUser::new("1", "a@x.test").with_email("a@x.test", true))
        .build();
    let snapshot = directory.snapshot().await.unwrap();
    let mut plan = plan_host(&snapshot, &Policy::default(), &host).unwrap();
    // A plan tampered with after review is refused and nothing lands.
    plan.locations[0].location_name = "Elsewhere".into();
    assert!(host.apply(&plan, "t").is_err());
    assert!(host.records("ber").unwrap().is_empty());
    // The real plan lands, and survives reopening the file.
    let plan = plan_host(&snapshot, &Policy::default(), &host).unwrap();
    host.apply(&plan, "t").unwrap();
    drop(host);
    let host = SqliteHost::open(&path).unwrap();
    let records = host.records("ber").unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].external_id.as_deref(), Some("1"));
    assert!(plan_host(&snapshot, &Policy::default(), &host)
        .unwrap()
        .is_empty());
}
