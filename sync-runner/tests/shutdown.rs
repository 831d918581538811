//! `Worker::run` until a shutdown signal: it polls for due connections,
//! stops claiming on the signal and finishes (and writes) what it holds.

mod common;

use common::*;
use sync_runner::RunnerStore;
use tokio::sync::watch;

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_runs_in_flight_and_releases_their_leases() {
    // Syncs take 10 minutes; 6 connections, 4 at once.
    let f = fixture(10 * MINUTE);
    for i in 0..6 {
        let id = format!("c{i}");
        f.factory.register(&id, directory(&id, 2), None);
        let c = connection(&id, &id, &id);
        f.host.set(&c.tenant_id, host_data(vec![]));
        f.store.put_connection(c, t0()).await.unwrap();
    }
    let (tx, rx) = watch::channel(false);
    let worker = f.runner.worker("w");
    let running = tokio::spawn(async move { worker.run(rx).await });

    tokio::time::sleep(MINUTE).await;
    tx.send(true).unwrap();
    running.await.unwrap();

    let mut ran = 0;
    for i in 0..6 {
        let id = format!("c{i}");
        let runs = f.store.runs(&id).await.unwrap();
        let status = f.store.status(&id, t0()).await.unwrap().unwrap();
        assert!(status.lease.is_none(), "{id} still leased");
        ran += runs.len();
    }
    assert_eq!(
        ran, 4,
        "the four in flight finished; nothing new was claimed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_running_worker_picks_up_connections_as_they_fall_due() {
    let f = fixture(MINUTE);
    f.factory.register("d", directory("d", 2), None);
    let c = connection("c", "org", "d");
    f.host.set(&c.tenant_id, host_data(vec![]));
    f.store.put_connection(c, t0()).await.unwrap();
    let (tx, rx) = watch::channel(false);
    let worker = f.runner.worker("w");
    let running = tokio::spawn(async move { worker.run(rx).await });

    // Runs start at 0, then an hour plus the jitter offset (under 10
    // minutes) plus the minute a sync takes after each: four fit in 4 hours.
    tokio::time::sleep(4 * HOUR).await;
    drop(tx);
    running.await.unwrap();
    assert_eq!(f.store.runs("c").await.unwrap().len(), 4);
    assert_eq!(f.per_tenant.max(), 1);
}
