//! Plans over the safety limits are held; approval applies them only if
//! nothing changed since review; an apply retried with the same hash
//! changes nothing twice.

mod common;

use common::*;
use recipient_reconcile::{Recipient, Source};
use sync_runner::{ApplyOutcome, Approval, Error, Host, RunKind, RunOutcome, RunnerStore};

/// Ten records in sync with ten directory users; then eight users leave.
async fn mass_leave(f: &Fixture) {
    let dir = directory("d", 10);
    f.factory.register("d", dir.clone(), None);
    let c = connection("c", "org", "d");
    f.host.set(&c.tenant_id, host_data(synced_records(10)));
    f.store.put_connection(c, t0()).await.unwrap();
    dir.update(|d| d.users.truncate(2));
}

fn active(f: &Fixture) -> usize {
    f.host.get("tenant-c").locations[0]
        .records
        .iter()
        .filter(|r| r.active)
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_plan_over_the_limits_is_held_and_approval_applies_it() {
    let f = fixture(std::time::Duration::ZERO);
    mass_leave(&f).await;
    drain(&f.runner.worker("w")).await;

    assert_eq!(active(&f), 10, "a held plan changed records");
    let runs = f.store.runs("c").await.unwrap();
    let RunOutcome::Held { plan_hash } = runs[0].outcome.clone() else {
        panic!("{runs:?}")
    };
    assert_eq!(runs[0].counts.deactivations, 8);
    let held = f.store.held_plans().await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].plan.hash, plan_hash);
    assert!(held[0].safety.contains("8"), "{}", held[0].safety);

    let approval = f
        .runner
        .approve("c", &plan_hash, "admin@host")
        .await
        .unwrap();
    assert_eq!(
        approval,
        Approval::Applied {
            plan_hash: plan_hash.clone()
        }
    );
    assert_eq!(active(&f), 2);
    assert!(f.store.held_plan("c").await.unwrap().is_none());
    let runs = f.store.runs("c").await.unwrap();
    assert_eq!(
        (runs[1].kind.clone(), runs[1].worker_id.as_str()),
        (RunKind::Approval, "admin@host")
    );
    assert_eq!(
        f.store
            .status("c", t0())
            .await
            .unwrap()
            .unwrap()
            .last_applied_hash,
        Some(plan_hash.clone())
    );

    // Approving again: nothing is held, nothing changes twice.
    let err = f
        .runner
        .approve("c", &plan_hash, "admin@host")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoHeldPlan { .. }), "{err}");
    assert_eq!(f.host.applies(), 1);
}

#[tokio::test(start_paused = true)]
async fn approval_of_a_plan_whose_records_changed_says_it_is_stale_and_applies_nothing() {
    let f = fixture(std::time::Duration::ZERO);
    mass_leave(&f).await;
    drain(&f.runner.worker("w")).await;
    let reviewed = f.store.held_plan("c").await.unwrap().unwrap().plan.hash;

    // Someone adds a record by hand after the review.
    f.host.update("tenant-c", |h| {
        h.locations[0].records.push(Recipient::new(
            "m1",
            "ber",
            Source::Manual,
            "desk@acme.test",
        ));
    });
    let approval = f.runner.approve("c", &reviewed, "admin").await.unwrap();
    let Approval::Stale {
        reviewed: r,
        current,
    } = approval
    else {
        panic!("{approval:?}")
    };
    assert_eq!(r, reviewed);
    assert_ne!(current, reviewed);
    assert_eq!(active(&f), 11, "a stale plan was applied");
    assert_eq!(f.host.applies(), 0);
    // The plan as it is now waits for review instead; the old one is gone.
    assert_eq!(
        f.store.held_plan("c").await.unwrap().unwrap().plan.hash,
        current
    );
    let err = f.runner.approve("c", &reviewed, "admin").await.unwrap_err();
    assert!(matches!(err, Error::NoHeldPlan { .. }), "{err}");
    assert_eq!(
        f.runner.approve("c", &current, "admin").await.unwrap(),
        Approval::Applied { plan_hash: current }
    );
    assert_eq!(active(&f), 3);
}

#[tokio::test(start_paused = true)]
async fn approval_waits_for_a_running_sync() {
    let f = fixture(std::time::Duration::ZERO);
    mass_leave(&f).await;
    drain(&f.runner.worker("w")).await;
    let hash = f.store.held_plan("c").await.unwrap().unwrap().plan.hash;
    let _claim = f
        .store
        .claim("c", "other", t0(), chrono::TimeDelta::minutes(5))
        .await
        .unwrap();
    let err = f.runner.approve("c", &hash, "admin").await.unwrap_err();
    assert_eq!(err, Error::Busy("c".into()));
    assert_eq!(active(&f), 10);
}

#[tokio::test(start_paused = true)]
async fn an_apply_retried_with_the_same_hash_changes_nothing_twice() {
    let f = fixture(std::time::Duration::ZERO);
    let dir = directory("d", 3);
    f.factory.register("d", dir, None);
    let c = connection("c", "org", "d");
    f.host.set(&c.tenant_id, host_data(vec![]));
    let snapshot =
        directory_core::Snapshot::from_parts("memory(d)", users(3), vec![], vec![], vec![]);
    let plan =
        recipient_reconcile::reconcile(&snapshot, &c.policy, &f.host.get("tenant-c")).unwrap();
    assert_eq!(plan.counts.creates, 3);

    assert_eq!(
        f.host.apply("tenant-c", &plan).await.unwrap(),
        ApplyOutcome::Applied
    );
    // A worker that crashed after applying retries the same plan.
    assert_eq!(
        f.host.apply("tenant-c", &plan).await.unwrap(),
        ApplyOutcome::AlreadyApplied
    );
    assert_eq!(f.host.get("tenant-c").locations[0].records.len(), 3);
    assert_eq!(f.host.applies(), 1);

    // And the runner, syncing after that crash, finds nothing left to do.
    f.store.put_connection(c, t0()).await.unwrap();
    drain(&f.runner.worker("w")).await;
    assert_eq!(
        f.store.runs("c").await.unwrap()[0].outcome,
        RunOutcome::NoChanges
    );
    assert_eq!(f.host.get("tenant-c").locations[0].records.len(), 3);
}
