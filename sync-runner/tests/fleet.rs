//! Two workers on one store: every connection synced once per due window,
//! never two syncs at once per tenant or per IdP org key.

mod common;

use common::*;
use sync_runner::{RunKind, RunOutcome, RunnerStore};

/// 30 tenants on 10 IdP orgs (three connections each), one directory per tenant.
async fn thirty(f: &Fixture) {
    for i in 0..30 {
        let id = format!("c{i:02}");
        f.factory.register(&id, directory(&id, 5), None);
        let c = connection(&id, &format!("org{}", i % 10), &id);
        f.host.set(&c.tenant_id, host_data(vec![]));
        f.store.put_connection(c, t0()).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn two_workers_sync_each_tenant_once_per_window_never_two_at_once() {
    let f = fixture(MINUTE);
    thirty(&f).await;
    let (a, b) = (f.runner.worker("a"), f.runner.worker("b"));

    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 30);
    assert!(na > 0 && nb > 0, "both workers took part: {na} and {nb}");
    assert_eq!(f.per_tenant.seen(), 30);
    assert_eq!(f.per_tenant.max(), 1, "a tenant synced twice at once");
    assert_eq!(f.per_org.max(), 1, "an IdP org synced twice at once");

    // Nothing is due again within the window.
    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 0);

    // The next window: each once more, incrementally (the directories did not change).
    tokio::time::advance(HOUR + 10 * MINUTE).await;
    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 30);
    assert_eq!(f.per_org.max(), 1);
    for i in 0..30 {
        let runs = f.store.runs(&format!("c{i:02}")).await.unwrap();
        assert_eq!(runs.len(), 2, "c{i:02}: {runs:?}");
        assert!(
            matches!(runs[0].kind, RunKind::Full { .. }),
            "{:?}",
            runs[0]
        );
        assert!(
            matches!(runs[0].outcome, RunOutcome::Applied { .. }),
            "{:?}",
            runs[0]
        );
        assert_eq!(runs[0].counts.creates, 5);
        assert_eq!(runs[1].kind, RunKind::Incremental);
        assert_eq!(runs[1].outcome, RunOutcome::NoChanges);
        let records = &f.host.get(&format!("tenant-c{i:02}")).locations[0].records;
        assert_eq!(records.len(), 5);
    }
    let m = f.runner.metrics().snapshot();
    assert_eq!(
        (
            m.runs_started,
            m.full_rounds,
            m.incremental_rounds,
            m.plans_applied
        ),
        (60, 30, 30, 30)
    );
}

#[test]
fn jitter_gives_each_connection_its_own_offset_within_the_window() {
    let schedule = connection("x", "org", "x").schedule;
    let offsets: Vec<_> = (0..30)
        .map(|i| schedule.offset(&format!("c{i:02}")))
        .collect();
    let mut distinct = offsets.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 29, "offsets bunch together: {offsets:?}");
    assert!(offsets
        .iter()
        .all(|o| *o >= chrono::TimeDelta::zero() && *o < chrono::TimeDelta::minutes(10)));
    // The same on every machine, and next_after adds the interval.
    assert_eq!(schedule.offset("c01"), offsets[1]);
    assert_eq!(
        schedule.next_after("c01", t0()),
        t0() + chrono::TimeDelta::hours(1) + offsets[1]
    );
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_is_kept_compressed_and_reads_back_whole() {
    let f = fixture(std::time::Duration::ZERO);
    f.factory.register("d", directory("d", 300), None);
    let c = connection("c", "org", "d");
    f.host.set(&c.tenant_id, host_data(vec![]));
    f.store.put_connection(c, t0()).await.unwrap();
    drain(&f.runner.worker("w")).await;

    let saved = f.store.saved_sync("c").await.unwrap().unwrap();
    assert_eq!(saved.snapshot.get(..2), Some(&[0x1f, 0x8b][..]), "gzip");
    let (snapshot, state) = saved.decode().unwrap();
    assert_eq!(snapshot.users.len(), 300);
    assert_eq!(state.directory(), snapshot.provider);
    let json = serde_json::to_vec(&snapshot).unwrap();
    assert!(
        saved.snapshot.len() * 4 < json.len(),
        "{} of {}",
        saved.snapshot.len(),
        json.len()
    );
}
