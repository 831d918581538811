//! A conformance suite for [`RunnerStore`] implementations: the guarantees
//! the workers rely on, checked the same way for the in-memory store and a
//! database store. Each check panics with what it found when a guarantee
//! does not hold.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use recipient_reconcile::Policy;

use crate::connection::{Connection, ProviderSettings};
use crate::error::{Error, Result};
use crate::schedule::Schedule;
use crate::store::{
    Claim, Completion, HeldChange, Lease, OperationCounts, RunKind, RunOutcome, RunRecord,
    RunnerStore, SavedSync,
};

/// Runs every check, each on a fresh (empty) store from `make`, e.g.
/// `store_conformance(|| async { MemoryStore::new() })`. The racing checks
/// call the store concurrently: a database store answers them on several
/// connections at once.
pub async fn store_conformance<S, F, Fut>(mut make: F)
where
    S: RunnerStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    due_and_enabled(&make().await).await;
    earliest_due_first(&make().await).await;
    one_lease_per_org_key(&make().await).await;
    lapsed_leases_move_and_fence(&make().await).await;
    heartbeats_extend(&make().await).await;
    claim_one(&make().await).await;
    complete_writes_everything_at_once(&make().await).await;
    replacing_a_connection_keeps_its_state(&make().await).await;
    removing_a_connection_takes_its_state_and_fences_its_lease(&make().await).await;
    racing_claimers_never_share(&make().await).await;
    racing_claims_lease_an_org_key_once(&make().await).await;
}

#[allow(clippy::panic)]
fn fail(what: &str, found: &dyn Debug) -> ! {
    panic!("store conformance: {what}; found {found:?}")
}

fn check(ok: bool, what: &str, found: &dyn Debug) {
    if !ok {
        fail(what, found);
    }
}

fn must<T>(r: Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| fail(what, &e))
}

fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_578_400, 0)
        .single()
        .unwrap_or_default()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

const LEASE: TimeDelta = TimeDelta::minutes(5);

/// A connection for the checks: `id` on IdP org `org`.
pub fn connection(id: &str, org: &str) -> Connection {
    Connection {
        id: id.to_string(),
        tenant_id: format!("tenant-{id}"),
        provider: ProviderSettings {
            kind: "memory".to_string(),
            settings: serde_json::json!({ "directory": id }),
            secrets: BTreeMap::new(),
        },
        idp_org_key: org.to_string(),
        policy: Policy::default(),
        schedule: Schedule::every(Duration::from_secs(3600)),
        enabled: true,
    }
}

async fn put(store: &impl RunnerStore, c: Connection, now: DateTime<Utc>) {
    must(store.put_connection(c, now).await, "put_connection");
}

async fn claim_due(
    store: &impl RunnerStore,
    worker: &str,
    minutes: i64,
    limit: usize,
) -> Vec<Claim> {
    must(
        store.claim_due(worker, at(minutes), LEASE, limit).await,
        "claim_due",
    )
}

fn ids(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|c| c.connection.id.as_str()).collect()
}

fn run(connection_id: &str, worker: &str, minutes: i64) -> RunRecord {
    RunRecord {
        connection_id: connection_id.to_string(),
        worker_id: worker.to_string(),
        started_at: at(minutes),
        finished_at: at(minutes),
        kind: RunKind::Incremental,
        requests: Some(1),
        counts: OperationCounts::default(),
        outcome: RunOutcome::NoChanges,
    }
}

fn done(connection_id: &str, worker: &str, minutes: i64) -> Completion {
    Completion {
        run: run(connection_id, worker, minutes),
        saved: None,
        applied_hash: None,
        held: HeldChange::Keep,
        next_due: Some(at(minutes + 60)),
        consecutive_failures: Some(0),
    }
}

async fn due_and_enabled(store: &impl RunnerStore) {
    put(store, connection("a", "org-a"), at(0)).await;
    put(store, connection("b", "org-b"), at(0)).await;
    put(
        store,
        Connection {
            enabled: false,
            ..connection("off", "org-off")
        },
        at(0),
    )
    .await;
    let early = claim_due(store, "w", -1, 10).await;
    check(
        early.is_empty(),
        "nothing is claimed before it is due",
        &ids(&early),
    );
    let claims = claim_due(store, "w", 0, 10).await;
    check(
        ids(&claims) == ["a", "b"],
        "due enabled connections are claimed, disabled ones not",
        &ids(&claims),
    );
    let again = claim_due(store, "w2", 0, 10).await;
    check(
        again.is_empty(),
        "a leased connection is not claimed again",
        &ids(&again),
    );
}

async fn earliest_due_first(store: &impl RunnerStore) {
    put(store, connection("late", "org-1"), at(0)).await;
    put(store, connection("early", "org-2"), at(-10)).await;
    let claims = claim_due(store, "w", 0, 1).await;
    check(
        ids(&claims) == ["early"],
        "the earliest due is claimed first",
        &ids(&claims),
    );
}

async fn one_lease_per_org_key(store: &impl RunnerStore) {
    for id in ["x1", "x2", "x3"] {
        put(store, connection(id, "shared-org"), at(0)).await;
    }
    let first = claim_due(store, "w1", 0, 10).await;
    check(
        first.len() == 1,
        "one connection per org key in a batch",
        &ids(&first),
    );
    let second = claim_due(store, "w2", 0, 10).await;
    check(
        second.is_empty(),
        "no connection on an org key leased by another worker",
        &ids(&second),
    );
    let lease = first
        .first()
        .map(|c| c.lease.clone())
        .unwrap_or_else(|| fail("a claim", &first));
    must(
        store
            .complete(&lease, done(&lease.connection_id, "w1", 1))
            .await,
        "complete",
    );
    let third = claim_due(store, "w2", 1, 10).await;
    check(
        third.len() == 1,
        "the org key is free once the run completed",
        &ids(&third),
    );
}

async fn lapsed_leases_move_and_fence(store: &impl RunnerStore) {
    put(store, connection("c", "org"), at(0)).await;
    let a = claim_due(store, "a", 0, 1).await;
    let lease_a = a
        .first()
        .map(|c| c.lease.clone())
        .unwrap_or_else(|| fail("a claim", &a));
    let early = claim_due(store, "b", 4, 1).await;
    check(early.is_empty(), "a live lease is not taken", &ids(&early));
    let b = claim_due(store, "b", 5, 1).await;
    check(
        ids(&b) == ["c"],
        "a lapsed lease is claimable by another worker",
        &ids(&b),
    );
    let lost = Error::LeaseLost("c".into());
    let beat = store.heartbeat(&lease_a, at(6), LEASE).await;
    check(
        beat.as_ref().err() == Some(&lost),
        "the old holder's heartbeat is refused",
        &beat,
    );
    let wrote = store.complete(&lease_a, done("c", "a", 6)).await;
    check(
        wrote.as_ref().err() == Some(&lost),
        "the old holder's completion is refused",
        &wrote,
    );
    must(store.release(&lease_a).await, "release");
    let runs = must(store.runs("c").await, "runs");
    check(runs.is_empty(), "the old holder wrote nothing", &runs);
    let status =
        must(store.status("c", at(6)).await, "status").map(|s| s.lease.map(|l| l.worker_id));
    check(
        status == Some(Some("b".into())),
        "the old holder's release leaves the new lease",
        &status,
    );
}

async fn heartbeats_extend(store: &impl RunnerStore) {
    put(store, connection("c", "org"), at(0)).await;
    let a = claim_due(store, "a", 0, 1).await;
    let lease: Lease = a
        .first()
        .map(|c| c.lease.clone())
        .unwrap_or_else(|| fail("a claim", &a));
    let renewed = must(store.heartbeat(&lease, at(4), LEASE).await, "heartbeat");
    check(
        renewed.expires_at == at(9),
        "a heartbeat extends the lease from now",
        &renewed,
    );
    let b = claim_due(store, "b", 6, 1).await;
    check(b.is_empty(), "a renewed lease is not taken", &ids(&b));
    must(
        store.complete(&lease, done("c", "a", 8)).await,
        "complete with the first lease value",
    );
}

async fn claim_one(store: &impl RunnerStore) {
    put(store, connection("c", "org"), at(0)).await;
    put(store, connection("d", "org"), at(0)).await;
    let unknown = store
        .claim("nope", "w", at(0), LEASE)
        .await
        .map(|c| c.lease);
    check(
        unknown == Err(Error::UnknownConnection("nope".into())),
        "claiming an unknown connection",
        &unknown,
    );
    let c = must(
        store.claim("c", "w", at(-1), LEASE).await,
        "claim before due",
    );
    let busy = store.claim("c", "v", at(1), LEASE).await.map(|c| c.lease);
    check(
        busy == Err(Error::Busy("c".into())),
        "a leased connection is busy",
        &busy,
    );
    let org = store.claim("d", "v", at(1), LEASE).await.map(|c| c.lease);
    check(
        org == Err(Error::Busy("d".into())),
        "a connection whose org key is leased is busy",
        &org,
    );
    must(store.release(&c.lease).await, "release");
    must(
        store.claim("d", "v", at(1), LEASE).await,
        "claim after release",
    );
}

async fn complete_writes_everything_at_once(store: &impl RunnerStore) {
    put(store, connection("c", "org"), at(0)).await;
    let claims = claim_due(store, "w", 0, 1).await;
    let lease = claims
        .first()
        .map(|c| c.lease.clone())
        .unwrap_or_else(|| fail("a claim", &claims));
    let saved = SavedSync {
        snapshot: b"{}".to_vec(),
        state: "{}".into(),
    };
    let completion = Completion {
        saved: Some(saved.clone()),
        applied_hash: Some("h1".into()),
        consecutive_failures: Some(3),
        ..done("c", "w", 1)
    };
    must(store.complete(&lease, completion).await, "complete");
    let status =
        must(store.status("c", at(1)).await, "status").unwrap_or_else(|| fail("a status", &"none"));
    let wrote = (
        status.due_at,
        status.consecutive_failures,
        status.last_applied_hash.clone(),
        status.lease.is_none(),
    );
    check(
        wrote == (at(61), 3, Some("h1".into()), true),
        "due time, failures, applied hash written; lease released",
        &wrote,
    );
    let kept = must(store.saved_sync("c").await, "saved_sync");
    check(
        kept.as_ref() == Some(&saved),
        "snapshot and state written",
        &kept,
    );
    let runs = must(store.runs("c").await, "runs");
    check(runs.len() == 1, "the run is in the history", &runs);
}

async fn removing_a_connection_takes_its_state_and_fences_its_lease(store: &impl RunnerStore) {
    for id in ["b", "a", "c"] {
        put(store, connection(id, id), at(0)).await;
    }
    let listed = must(store.connection_ids().await, "connection_ids");
    check(listed == ["a", "b", "c"], "every id, sorted", &listed);
    let claims = claim_due(store, "w", 0, 3).await;
    let lease_of = |id: &str| {
        claims
            .iter()
            .find(|c| c.connection.id == id)
            .map(|c| c.lease.clone())
    };
    let (Some(a), Some(b)) = (lease_of("a"), lease_of("b")) else {
        fail("leases on a and b", &claims)
    };
    must(store.complete(&a, done("a", "w", 1)).await, "complete a");
    check(
        must(store.remove_connection("a").await, "remove a"),
        "a was there",
        &"false",
    );
    check(
        must(store.remove_connection("b").await, "remove b"),
        "b was there",
        &"false",
    );
    check(
        !must(store.remove_connection("a").await, "remove a again"),
        "a is gone",
        &"true",
    );
    let listed = must(store.connection_ids().await, "connection_ids");
    check(listed == ["c"], "a and b are no longer listed", &listed);
    let runs = must(store.runs("a").await, "runs");
    check(runs.is_empty(), "a's run history went with it", &runs);
    let status = must(store.status("a", at(1)).await, "status");
    check(status.is_none(), "a has no status", &status);
    let late = store.complete(&b, done("b", "w", 2)).await;
    check(
        matches!(late, Err(crate::Error::LeaseLost(_))),
        "a run finishing after its connection was removed writes nothing",
        &late,
    );
    check(
        must(store.connection("b").await, "connection").is_none(),
        "b stays removed",
        &"found",
    );
}

async fn replacing_a_connection_keeps_its_state(store: &impl RunnerStore) {
    put(store, connection("c", "org"), at(0)).await;
    let claims = claim_due(store, "w", 0, 1).await;
    let lease = claims
        .first()
        .map(|c| c.lease.clone())
        .unwrap_or_else(|| fail("a claim", &claims));
    must(store.complete(&lease, done("c", "w", 1)).await, "complete");
    put(
        store,
        Connection {
            enabled: false,
            ..connection("c", "org")
        },
        at(2),
    )
    .await;
    let runs = must(store.runs("c").await, "runs");
    check(
        runs.len() == 1,
        "replacing settings keeps the history",
        &runs,
    );
    let due = must(store.status("c", at(2)).await, "status").map(|s| s.due_at);
    check(
        due == Some(at(61)),
        "replacing settings keeps the due time",
        &due,
    );
    let bad = Connection {
        id: String::new(),
        ..connection("c", "org")
    };
    let refused = store.put_connection(bad, at(2)).await;
    check(
        matches!(refused, Err(Error::InvalidConnection { .. })),
        "an invalid connection is refused",
        &refused,
    );
}

/// Eight workers claim at once, round after round, from twelve due
/// connections on four org keys: no round leases one connection or one org
/// key twice, every round while some are left leases at least one, and
/// every connection is claimed exactly once in all.
async fn racing_claimers_never_share(store: &impl RunnerStore) {
    for i in 0..12 {
        let (id, org) = (format!("r{i:02}"), format!("org-{}", i % 4));
        put(store, connection(&id, &org), at(0)).await;
    }
    let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..12 {
        let racers = WORKERS.iter().map(|w| store.claim_due(w, at(0), LEASE, 2));
        let claims: Vec<Claim> = futures::future::join_all(racers)
            .await
            .into_iter()
            .flat_map(|r| must(r, "claim_due (racing)"))
            .collect();
        if claims.is_empty() {
            break;
        }
        let mut orgs: Vec<&str> = claims
            .iter()
            .map(|c| c.connection.idp_org_key.as_str())
            .collect();
        orgs.sort_unstable();
        let before = orgs.len();
        orgs.dedup();
        check(
            orgs.len() == before,
            "racing claimers never lease one org key (or connection) twice",
            &ids(&claims),
        );
        for c in &claims {
            *claimed.entry(c.connection.id.clone()).or_default() += 1;
            let wrote = store
                .complete(&c.lease, done(&c.connection.id, &c.lease.worker_id, 0))
                .await;
            must(wrote, "complete after a racing claim");
        }
    }
    check(
        claimed.len() == 12 && claimed.values().all(|n| *n == 1),
        "racing claimers claim every due connection exactly once",
        &claimed,
    );
}

/// Worker ids for the racing checks.
const WORKERS: [&str; 8] = ["w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"];

/// Six claims of three connections on one org key and two batch claims,
/// all at once, five times over: each time exactly one lease is granted;
/// the single claims that lose are `Busy`.
async fn racing_claims_lease_an_org_key_once(store: &impl RunnerStore) {
    for round in 0..5 {
        let ids = [1, 2, 3].map(|k| format!("k{round}-{k}"));
        for id in &ids {
            put(store, connection(id, &format!("org-{round}")), at(0)).await;
        }
        let singles = WORKERS
            .iter()
            .take(6)
            .zip(ids.iter().cycle())
            .map(|(w, id)| store.claim(id, w, at(0), LEASE));
        let batches = WORKERS
            .iter()
            .skip(6)
            .map(|w| store.claim_due(w, at(0), LEASE, 3));
        let (singles, batches) = futures::future::join(
            futures::future::join_all(singles),
            futures::future::join_all(batches),
        )
        .await;
        let mut won: Vec<String> = Vec::new();
        for r in singles {
            match r {
                Ok(c) => won.push(c.connection.id),
                Err(Error::Busy(_)) => {}
                Err(e) => fail("a racing claim is granted or busy", &e),
            }
        }
        for r in batches {
            won.extend(
                must(r, "claim_due (racing)")
                    .into_iter()
                    .map(|c| c.connection.id),
            );
        }
        check(
            won.len() == 1,
            "racing claims on one org key grant exactly one lease",
            &won,
        );
    }
}
