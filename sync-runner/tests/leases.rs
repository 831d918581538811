//! Leases: a worker that stops heartbeating loses its connections to
//! another after the lease lapses, and can write nothing afterwards; a
//! worker that heartbeats keeps them however long its syncs take.

mod common;

use common::*;
use sync_runner::{Error, RunnerStore};

async fn ten(f: &Fixture) {
    for i in 0..10 {
        let id = format!("c{i}");
        f.factory.register(&id, directory(&id, 3), None);
        let c = connection(&id, &format!("org{i}"), &id);
        f.host.set(&c.tenant_id, host_data(vec![]));
        f.store.put_connection(c, t0()).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_dead_workers_connections_are_finished_by_another_after_the_lease_lapses() {
    let f = fixture(MINUTE);
    ten(&f).await;
    // A worker claims four connections and dies: it never heartbeats or writes.
    let lease_for = chrono::TimeDelta::minutes(5);
    let dead = f.store.claim_due("dead", t0(), lease_for, 4).await.unwrap();
    assert_eq!(dead.len(), 4);

    let b = f.runner.worker("b");
    assert_eq!(drain(&b).await, 6, "leased connections are not claimable");

    tokio::time::advance(5 * MINUTE).await;
    assert_eq!(drain(&b).await, 4, "lapsed leases are claimable");
    for claim in &dead {
        let runs = f.store.runs(&claim.connection.id).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].worker_id, "b");
        // The dead worker wakes up: its lease is gone, nothing it writes lands.
        let now = t0() + chrono::TimeDelta::minutes(7);
        let err = f
            .store
            .heartbeat(&claim.lease, now, lease_for)
            .await
            .unwrap_err();
        assert_eq!(err, Error::LeaseLost(claim.connection.id.clone()));
        let completion = sync_runner::Completion {
            run: runs[0].clone(),
            saved: None,
            applied_hash: None,
            held: sync_runner::HeldChange::Clear,
            next_due: Some(now),
            consecutive_failures: Some(9),
        };
        let err = f
            .store
            .complete(&claim.lease, completion)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LeaseLost(_)), "{err}");
        let status = f
            .store
            .status(&claim.connection.id, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.consecutive_failures, 0);
        assert!(status.due_at > now);
    }
}

#[tokio::test(start_paused = true)]
async fn a_heartbeating_worker_keeps_its_lease_through_a_long_sync() {
    // Each sync takes 20 minutes, four times the lease.
    let f = fixture(20 * MINUTE);
    ten(&f).await;
    let (a, b) = (f.runner.worker("a"), f.runner.worker("b"));
    let long = async {
        assert_eq!(a.run_once().await.unwrap(), 4);
    };
    let poacher = async {
        for _ in 0..18 {
            tokio::time::sleep(MINUTE).await;
            // b may take the six free connections, never a's four.
            b.run_once().await.unwrap();
        }
    };
    tokio::join!(long, poacher);
    assert_eq!(
        f.per_tenant.max(),
        1,
        "a connection was synced twice at once"
    );
    for i in 0..10 {
        let runs = f.store.runs(&format!("c{i}")).await.unwrap();
        assert_eq!(runs.len(), 1, "c{i}: {runs:?}");
    }
    assert_eq!(f.runner.metrics().snapshot().leases_lost, 0);
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_lease_was_taken_writes_nothing() {
    let f = fixture(20 * MINUTE);
    ten(&f).await;
    let a = f.runner.worker("a");
    let thief = async {
        // Another process ignores a's lease (as after a partition): it
        // claims after expiry as seen from a clock 6 minutes ahead.
        tokio::time::sleep(MINUTE / 2).await;
        let later = t0() + chrono::TimeDelta::minutes(7);
        let stolen = f
            .store
            .claim_due("thief", later, chrono::TimeDelta::hours(1), 10)
            .await
            .unwrap();
        assert!(!stolen.is_empty());
        stolen
    };
    let (n, stolen) = tokio::join!(a.run_once(), thief);
    assert_eq!(n.unwrap(), 4);
    assert_eq!(f.runner.metrics().snapshot().leases_lost, 4);
    for claim in stolen {
        assert!(f.store.runs(&claim.connection.id).await.unwrap().is_empty());
    }
}
