//! The PostgreSQL store (feature `postgres`): the store conformance suite
//! (including claimers racing on several connections at once), migrations
//! applied once by workers starting together, and a fleet of workers syncing
//! through it.
//!
//! The server comes from `DATABASE_URL`; each test run makes a database of
//! its own and drops it. Without `DATABASE_URL` each test prints that it was
//! skipped and why, and passes.
#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;

use common::pg::fresh_database;
use common::*;
use sync_runner::{PgStore, RunKind, RunOutcome, Runner, RunnerStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_every_store_guarantee() {
    let Some(db) = fresh_database("postgres_store_keeps_every_store_guarantee").await else {
        return;
    };
    let mut n = 0;
    sync_runner::testing::store_conformance(|| {
        n += 1;
        let schema = format!("check_{n}");
        let db = &db;
        async move { db.store_in_schema(&schema).await }
    })
    .await;
    db.drop_database().await;
}

#[tokio::test]
async fn migrations_apply_once_when_workers_start_together_and_connections_read_back_whole_with_no_plaintext(
) {
    let Some(db) = fresh_database("migrations_apply_once").await else {
        return;
    };
    let (a, b, c) = tokio::join!(db.store(), db.store(), db.store());
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM runner_migrations")
        .fetch_all(a.pool())
        .await
        .unwrap();
    assert_eq!(versions, [1]);
    let mut conn = connection("c1", "org", "dir");
    conn.policy.limits.max_deactivations = Some(7);
    conn.provider
        .secrets
        .insert("token".into(), "vault://acme/token".into());
    conn.schedule = sync_runner::Schedule::cron("0 2 * * 1-5", Some("Europe/Berlin"))
        .unwrap()
        .jitter(std::time::Duration::from_secs(3600));
    // A secret sealed in the connection: stored as ciphertext, read back whole.
    let key = sync_runner::SealingKey::new("k1", [7; 32]).unwrap();
    let sealer = sync_runner::EncryptedSecrets::new(key);
    let plaintext = "a-client-secret-never-stored-in-plaintext";
    sealer
        .seal_into(
            &mut conn,
            "client_secret",
            &directory_core::SecretString::new(plaintext),
        )
        .unwrap();
    b.put_connection(conn.clone(), t0()).await.unwrap();
    assert_eq!(c.connection("c1").await.unwrap(), Some(conn));
    let stored: String =
        sqlx::query_scalar("SELECT connection::text FROM runner_connections WHERE id = 'c1'")
            .fetch_one(a.pool())
            .await
            .unwrap();
    assert!(
        !stored.contains(plaintext) && stored.contains("Europe/Berlin"),
        "{stored}"
    );
    assert_eq!(c.connection("nope").await.unwrap(), None);
    drop((a, b, c));
    db.drop_database().await;
}

/// 30 tenants on 10 IdP orgs, two runners (own pools, as two processes
/// would have) on one database: each tenant synced once, never two syncs
/// at once per tenant or org key; the next window is incremental.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_on_one_database_sync_each_tenant_once_never_two_at_once() {
    let Some(db) = fresh_database("two_runners_on_one_database").await else {
        return;
    };
    let f = fixture(std::time::Duration::from_millis(20));
    let (store_a, store_b): (PgStore, PgStore) = tokio::join!(db.store(), db.store());
    for i in 0..30 {
        let id = format!("c{i:02}");
        f.factory.register(&id, directory(&id, 5), None);
        let c = connection(&id, &format!("org{}", i % 10), &id);
        f.host.set(&c.tenant_id, host_data(vec![]));
        store_a.put_connection(c, t0()).await.unwrap();
    }
    let clock = Arc::new(sync_runner::ManualClock::new(t0()));
    let runner = |store: PgStore| {
        Runner::new(
            Arc::new(store),
            Arc::new(f.host.clone()),
            Arc::new(TrackingFactory {
                inner: Arc::new(f.factory.clone()),
                per_tenant: f.per_tenant.clone(),
                per_org: f.per_org.clone(),
                hold: std::time::Duration::from_millis(20),
            }),
            Arc::new(f.secrets.clone()),
        )
        .with_clock(clock.clone())
        .with_config(config())
    };
    let (a, b) = (
        runner(store_a.clone()).worker("a"),
        runner(store_b).worker("b"),
    );
    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 30);
    assert_eq!(f.per_tenant.seen(), 30);
    assert_eq!(f.per_tenant.max(), 1, "a tenant synced twice at once");
    assert_eq!(f.per_org.max(), 1, "an IdP org synced twice at once");

    clock.advance(chrono::TimeDelta::minutes(75));
    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 30);
    for i in 0..30 {
        let id = format!("c{i:02}");
        let runs = store_a.runs(&id).await.unwrap();
        assert_eq!(runs.len(), 2, "{id}: {runs:?}");
        assert!(
            matches!(runs[0].kind, RunKind::Full { .. }),
            "{:?}",
            runs[0]
        );
        assert!(matches!(runs[0].outcome, RunOutcome::Applied { .. }));
        assert_eq!(runs[0].counts.creates, 5);
        assert_eq!(
            (runs[1].kind.clone(), runs[1].outcome.clone()),
            (RunKind::Incremental, RunOutcome::NoChanges)
        );
        let saved = store_a.saved_sync(&id).await.unwrap().unwrap();
        assert_eq!(saved.decode().unwrap().0.users.len(), 5);
    }
    assert_eq!(f.per_org.max(), 1);
    drop((a, b, store_a));
    db.drop_database().await;
}
