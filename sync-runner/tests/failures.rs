//! A failing IdP is recorded with the fix and backed off exponentially
//! while the other connections proceed; a success resets the count.

mod common;

use common::*;
use directory_core::{ErrorKind, InjectedFailure, ResourceKind};
use sync_runner::{RunKind, RunOutcome, RunnerStore};

#[tokio::test(start_paused = true)]
async fn a_failing_idp_is_recorded_with_its_fix_and_backed_off_while_others_proceed() {
    let f = fixture(std::time::Duration::ZERO);
    for i in 0..5 {
        let id = format!("c{i}");
        f.factory.register(&id, directory(&id, 3), None);
        let c = connection(&id, &format!("org{i}"), &id);
        f.host.set(&c.tenant_id, host_data(vec![]));
        f.store.put_connection(c, t0()).await.unwrap();
    }
    let broken = directory("broken", 3);
    broken.inject(InjectedFailure {
        kind: ResourceKind::Users,
        page: 1,
        error: ErrorKind::PermissionDenied,
        group_id: None,
    });
    f.factory.register("c2", broken.clone(), None);
    let w = f.runner.worker("w");

    assert_eq!(drain(&w).await, 5);
    let runs = f.store.runs("c2").await.unwrap();
    let RunOutcome::Failed(error) = &runs[0].outcome else {
        panic!("{runs:?}")
    };
    assert_eq!(runs[0].kind, RunKind::NotStarted);
    assert_eq!(
        (error.stage.as_str(), error.kind.as_str()),
        ("check", ErrorKind::PermissionDenied.as_str())
    );
    assert_eq!(error.fixes.len(), 1, "{error:?}");
    assert!(error.fixes[0].starts_with("list users: "), "{error:?}");
    assert!(f.host.get("tenant-c2").locations[0].records.is_empty());
    for id in ["c0", "c1", "c3", "c4"] {
        assert!(matches!(
            f.store.runs(id).await.unwrap()[0].outcome,
            RunOutcome::Applied { .. }
        ));
    }

    // Backoff doubles: 2 minutes, then 4, then 8; the others are not due.
    for (failures, wait) in [(1u32, 2u32), (2, 4), (3, 8)] {
        let s = f.store.status("c2", t0()).await.unwrap().unwrap();
        assert_eq!(s.consecutive_failures, failures);
        let now = f.runner.store().status("c0", t0()).await.unwrap().unwrap();
        assert!(now.due_at > t0() + chrono::TimeDelta::hours(1));
        tokio::time::advance(MINUTE * (wait - 1)).await;
        assert_eq!(drain(&w).await, 0, "retried before its backoff ran out");
        tokio::time::advance(MINUTE).await;
        assert_eq!(drain(&w).await, 1, "after {failures} failures");
        assert_eq!(f.store.runs("c0").await.unwrap().len(), 1);
    }
    assert_eq!(f.store.runs("c2").await.unwrap().len(), 4);

    // Fixed: the next attempt succeeds and the count resets.
    broken.clear_failures();
    tokio::time::advance(MINUTE * 16).await;
    assert_eq!(drain(&w).await, 1);
    let s = f.store.status("c2", t0()).await.unwrap().unwrap();
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(f.host.get("tenant-c2").locations[0].records.len(), 3);
    assert_eq!(f.runner.metrics().snapshot().runs_failed, 4);
}

#[tokio::test(start_paused = true)]
async fn a_sync_that_fails_midway_keeps_the_previous_state() {
    let f = fixture(std::time::Duration::ZERO);
    let dir = directory_core::InMemoryDirectory::builder("d")
        .page_size(2)
        .data(directory_core::DirectoryData {
            users: users(5),
            ..Default::default()
        })
        .build();
    f.factory.register("d", dir.clone(), None);
    let c = connection("c", "org", "d");
    f.host.set(&c.tenant_id, host_data(vec![]));
    f.store.put_connection(c, t0()).await.unwrap();
    let w = f.runner.worker("w");
    drain(&w).await;
    let saved = f.store.saved_sync("c").await.unwrap().unwrap();

    // The directory changes (a full round follows) and page 2 fails: check() passes.
    dir.update(|d| d.users.truncate(4));
    dir.inject(InjectedFailure {
        kind: ResourceKind::Users,
        page: 2,
        error: ErrorKind::Transient,
        group_id: None,
    });
    tokio::time::advance(HOUR + 10 * MINUTE).await;
    drain(&w).await;
    let runs = f.store.runs("c").await.unwrap();
    let RunOutcome::Failed(error) = &runs[1].outcome else {
        panic!("{runs:?}")
    };
    assert_eq!(error.stage, "sync");
    assert_eq!(
        f.store.saved_sync("c").await.unwrap().unwrap(),
        saved,
        "a failed round kept its state"
    );
    assert_eq!(
        f.host.get("tenant-c").locations[0]
            .records
            .iter()
            .filter(|r| r.active)
            .count(),
        5
    );
}
