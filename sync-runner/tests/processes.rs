//! Three worker processes on one PostgreSQL database, 300 tenants on
//! simulated Okta orgs and Entra tenants (real HTTP on 127.0.0.1, served by
//! this process), one worker SIGKILLed mid-run (issue 17). Checked from the
//! database afterwards: every tenant synced exactly once in the window; no
//! two runs on one IdP org key overlapped (run history intervals); no plan
//! applied twice (the host's apply log, a table written in the same
//! transaction as the records: `examples/support/fleet.rs`); the killed worker's tenants finished by the
//! others, each only after the killed worker's lease on it lapsed.
//!
//! The workers are this test binary again (`current_exe`), started with
//! `SYNC_RUNNER_TEST_WORKER=<id>`: the harness is off (`harness = false`),
//! so `main` decides which role it plays. A worker stops gracefully when
//! its stdin closes. Without `DATABASE_URL` the test says it was skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitCode, Stdio};
use std::str::FromStr;
use std::time::Duration;

use azure_directory::testkit::SimulatedTenant;
use chrono::{DateTime, Utc};
use common::fleet::{run_worker, HOST_TABLES};
use common::orgs::SimulatedOrg;
use common::pg::{fresh_database, TestDb};
use okta_directory::testkit::OktaOrg;
use recipient_reconcile::{HostData, Policy};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::PgPool;
use sync_runner::{Connection, PgStore, RunOutcome, RunnerConfig, RunnerStore, Schedule};

const TEST: &str = "three_worker_processes_one_killed_sync_300_tenants_exactly_once";
const WORKER_ENV: &str = "SYNC_RUNNER_TEST_WORKER";
const DB_ENV: &str = "SYNC_RUNNER_TEST_DB";
const SECRETS_ENV: &str = "SYNC_RUNNER_TEST_SECRETS";
const TENANTS: usize = 300;
/// Tenants `i` and `i + PAIRED_OFFSET`, for `i < PAIRS`, share an org key.
const PAIRS: usize = 3;
const PAIRED_OFFSET: usize = 10;
/// How long the test waits for the fleet at most: generous, not a bound
/// on speed (the worst case on a loaded 2-core machine).
const DEADLINE: Duration = Duration::from_secs(600);

fn main() -> ExitCode {
    if let Ok(worker_id) = std::env::var(WORKER_ENV) {
        return worker_main(&worker_id);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{TEST}: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| TEST.contains(f.as_str())) {
        println!("running 0 tests ({TEST} filtered out)");
        return ExitCode::SUCCESS;
    }
    println!("running 1 test\ntest {TEST} ...");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(fleet());
    println!("test {TEST} ... ok");
    ExitCode::SUCCESS
}

// ------------------------------------------------------------- the worker

fn worker_main(worker_id: &str) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = std::env::var("DATABASE_URL").unwrap();
        let db = std::env::var(DB_ENV).unwrap();
        let secrets: BTreeMap<String, String> =
            serde_json::from_str(&std::env::var(SECRETS_ENV).unwrap()).unwrap();
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .database(&db)
            .application_name(worker_id);
        let store = PgStore::connect_with(options, PgPoolOptions::new().max_connections(6))
            .await
            .unwrap();
        let config = RunnerConfig {
            concurrency: 4,
            lease: Duration::from_secs(2),
            heartbeat_every: Duration::from_millis(400),
            poll_every: Duration::from_millis(100),
            // A failure stays recorded for the test to report, not retried in the window.
            backoff_base: Duration::from_secs(3600),
            backoff_max: Duration::from_secs(3600),
            ..RunnerConfig::default()
        };
        run_worker(store, worker_id, secrets, config).await;
    });
    ExitCode::SUCCESS
}

// --------------------------------------------------------------- the test

async fn start_orgs(
    secrets: &mut BTreeMap<String, String>,
) -> (Vec<SimulatedOrg>, Vec<Box<dyn Send>>) {
    let mut orgs = Vec::new();
    let mut servers: Vec<Box<dyn Send>> = Vec::new();
    for (j, users) in [5usize, 12, 20, 33, 50, 8].into_iter().enumerate() {
        let org = OktaOrg::builder()
            .seed(j as u64 + 1)
            .users(users)
            .groups(2)
            .app_users(users / 2)
            .latency(Duration::from_millis(15))
            .start()
            .await
            .unwrap();
        orgs.push(common::orgs::okta(&org, &format!("okta-key-{j}"), secrets));
        servers.push(Box::new(org));
    }
    for (j, users) in [7usize, 25, 45, 15].into_iter().enumerate() {
        let tenant = SimulatedTenant::builder()
            .users(users)
            .groups(2)
            .app_users(users / 2)
            .latency(Duration::from_millis(15))
            .start()
            .await
            .unwrap();
        orgs.push(common::orgs::entra(
            &tenant,
            &format!("graph-secret-{j}"),
            secrets,
        ));
        servers.push(Box::new(tenant));
    }
    (orgs, servers)
}

/// Tenant `i`: its connection (on org `i % orgs`) and org key.
fn tenant_connection(i: usize, orgs: &[SimulatedOrg]) -> Connection {
    let org = &orgs[i % orgs.len()];
    // Distinct keys per tenant (many customers on one simulated org), but
    // a few pairs share one, as two connections to one Okta org would.
    let key_of = if (PAIRED_OFFSET..PAIRED_OFFSET + PAIRS).contains(&i) {
        i - PAIRED_OFFSET
    } else {
        i
    };
    Connection {
        id: format!("t{i:03}"),
        tenant_id: format!("tenant-{i:03}"),
        provider: org.provider.clone(),
        idp_org_key: format!("{}#{key_of}", org.key),
        policy: Policy::default(),
        schedule: Schedule::every(Duration::from_secs(86_400)).jitter(Duration::ZERO),
        enabled: true,
    }
}

fn spawn_worker(id: &str, db: &TestDb, secrets: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(WORKER_ENV, id)
        .env(DB_ENV, &db.name)
        .env(SECRETS_ENV, secrets)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

async fn scalar_i64(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Polls `done` every 100 ms until it holds; panics with `what` after the deadline.
async fn wait_for<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < give_up,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fleet() {
    let Some(db) = fresh_database(TEST).await else {
        return;
    };
    let store = db.store().await;
    let pool = store.pool().clone();
    sqlx::raw_sql(HOST_TABLES).execute(&pool).await.unwrap();

    let mut secrets = BTreeMap::new();
    let (orgs, _servers) = start_orgs(&mut secrets).await;
    let connections: Vec<Connection> = (0..TENANTS).map(|i| tenant_connection(i, &orgs)).collect();
    let now = Utc::now();
    for c in &connections {
        let empty = HostData {
            locations: vec![recipient_reconcile::HostLocation {
                location: recipient_reconcile::Location::new("ber", "Berlin"),
                records: vec![],
            }],
            users: vec![],
        };
        sqlx::query("INSERT INTO host_records (tenant_id, data) VALUES ($1, $2)")
            .bind(&c.tenant_id)
            .bind(Json(&empty))
            .execute(&pool)
            .await
            .unwrap();
        store.put_connection(c.clone(), now).await.unwrap();
    }

    let handed = serde_json::to_string(&secrets).unwrap();
    let mut workers: BTreeMap<&str, Child> = ["w1", "w2", "w3"]
        .into_iter()
        .map(|id| (id, spawn_worker(id, &db, &handed)))
        .collect();

    // Mid-run: some tenants done, and the victim syncing at least two.
    wait_for("the fleet to get going with w1 holding two leases", || async {
        let done = scalar_i64(&pool, "SELECT count(*) FROM runner_runs").await;
        let held = scalar_i64(
            &pool,
            "SELECT count(*) FROM runner_connections WHERE worker_id = 'w1' AND lease_expires_at > now()",
        )
        .await;
        done >= 30 && held >= 2
    })
    .await;
    let mut victim = workers.remove("w1").unwrap();
    victim.kill().unwrap(); // SIGKILL
    let status = victim.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    // A commit the worker sent just before it died may still be landing:
    // wait until the server has closed all its sessions.
    wait_for("the dead worker's sessions to end", || async {
        scalar_i64(
            &pool,
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = 'w1' AND datname = current_database()",
        )
        .await
            == 0
    })
    .await;
    // What the dead worker held: its leases are still in the rows.
    let orphaned: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, lease_expires_at FROM runner_connections WHERE worker_id = 'w1'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!orphaned.is_empty(), "w1 was killed holding no lease");

    wait_for("every tenant to have a run", || async {
        scalar_i64(
            &pool,
            "SELECT count(DISTINCT connection_id) FROM runner_runs",
        )
        .await
            == TENANTS as i64
    })
    .await;
    // Graceful stop of the survivors: close their stdin, they finish and exit 0.
    for (id, child) in &mut workers {
        drop(child.stdin.take());
        let status = child.wait().unwrap();
        assert!(status.success(), "{id} did not stop cleanly: {status:?}");
    }

    check(&store, &pool, &connections, &orphaned).await;
    // The secrets went to the workers by name only: no row holds one. Each
    // is looked for by its longest run without JSON escapes (a private
    // JWK's key material, a client secret whole).
    for value in secrets.values() {
        let value = value
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .max_by_key(|run| run.len())
            .unwrap();
        assert!(
            value.len() >= 20,
            "a secret too short to look for: {}",
            value.len()
        );
        let rows = sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM runner_connections WHERE connection::text LIKE $1) \
                  + (SELECT count(*) FROM runner_runs WHERE outcome::text LIKE $1)",
        )
        .bind(format!("%{value}%"))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(rows, 0, "a secret is stored in plaintext");
    }
    drop(store);
    db.drop_database().await;
}

/// A run's start, finish and connection id.
type Interval<'a> = (DateTime<Utc>, DateTime<Utc>, &'a str);

async fn check(
    store: &PgStore,
    pool: &PgPool,
    connections: &[Connection],
    orphaned: &[(String, DateTime<Utc>)],
) {
    // The host's apply log: one plan applied per tenant. A repeat the host
    // refused by hash is allowed (and counted): a worker that lost its lease
    // while starved of CPU, or was killed, after applying, leaves the plan to
    // be made again by the next one, from records read before that apply.
    let log: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT tenant_id, plan_hash, worker_id, outcome FROM host_apply_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut applied: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut refused = 0;
    for (tenant, hash, worker, outcome) in &log {
        if outcome == "already_applied" {
            assert_eq!(
                applied.get(tenant).map(|(h, _)| h),
                Some(hash),
                "{tenant}: a repeat refused for a plan never applied"
            );
            refused += 1;
            continue;
        }
        let before = applied.insert(tenant.clone(), (hash.clone(), worker.clone()));
        assert!(
            before.is_none(),
            "{tenant} applied twice: {before:?} and {hash} by {worker}"
        );
    }
    assert_eq!(applied.len(), TENANTS, "tenants with an applied plan");

    let orphaned: BTreeMap<&str, DateTime<Utc>> =
        orphaned.iter().map(|(id, at)| (id.as_str(), *at)).collect();
    let mut by_org: BTreeMap<&str, Vec<Interval>> = BTreeMap::new();
    let mut records_per_org: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let (mut taken_over, mut unrecorded) = (0, 0);
    for c in connections {
        let runs = store.runs(&c.id).await.unwrap();
        assert_eq!(
            runs.len(),
            1,
            "{} synced {} times: {runs:?}",
            c.id,
            runs.len()
        );
        let run = &runs[0];
        let (hash, applier) = &applied[&c.tenant_id];
        match &run.outcome {
            RunOutcome::Applied { plan_hash } => {
                assert_eq!(plan_hash, hash, "{}: the run applied another plan", c.id);
            }
            // A worker applied, then died or lost its lease before writing
            // its run: the next worker's plan is empty.
            RunOutcome::NoChanges => {
                assert_ne!(applier, &run.worker_id, "{}: {run:?}", c.id);
                unrecorded += 1;
            }
            other => panic!("{}: {other:?}", c.id),
        }
        if let Some(lapsed) = orphaned.get(c.id.as_str()) {
            assert_ne!(run.worker_id, "w1", "{} finished by the dead worker", c.id);
            assert!(
                run.started_at >= *lapsed,
                "{} taken over at {} before w1's lease lapsed at {lapsed}",
                c.id,
                run.started_at
            );
            taken_over += 1;
        }
        by_org.entry(c.idp_org_key.as_str()).or_default().push((
            run.started_at,
            run.finished_at,
            c.id.as_str(),
        ));
        let data: Json<HostData> =
            sqlx::query_scalar("SELECT data FROM host_records WHERE tenant_id = $1")
                .bind(&c.tenant_id)
                .fetch_one(pool)
                .await
                .unwrap();
        let org = c
            .idp_org_key
            .split('#')
            .next()
            .unwrap_or_default()
            .to_string();
        records_per_org
            .entry(org)
            .or_default()
            .insert(data.0.locations[0].records.len());
    }
    assert_eq!(taken_over, orphaned.len());
    let calls = scalar_i64(pool, "SELECT count(*) FROM host_apply_log").await;
    eprintln!(
        "w1 killed holding {} leases, all finished by w2/w3; {unrecorded} applies whose run \
         was not written (killed or lease lost), {refused} repeats refused by the host; \
         {calls} apply calls in all",
        orphaned.len()
    );
    // No two runs on one org key overlapped.
    let mut shared = 0;
    for (key, mut runs) in by_org {
        runs.sort();
        for pair in runs.windows(2) {
            shared += 1;
            assert!(pair[0].1 <= pair[1].0, "{key}: runs overlap: {pair:?}");
        }
    }
    assert_eq!(shared, PAIRS, "org keys shared by two tenants");
    // Every tenant on one simulated org ended with the same records.
    for (org, counts) in records_per_org {
        assert!(
            counts.len() == 1 && counts.iter().all(|n| *n > 0),
            "{org}: tenants differ in records: {counts:?}"
        );
    }
}
