//! The fleet bench (issue 17): many tenants on simulated Okta orgs and Entra
//! tenants (real HTTP on 127.0.0.1, latency added to every request), synced
//! by worker processes of `sync-runner` that share one PostgreSQL database
//! and nothing else: a first, full pass over every tenant, then a second,
//! incremental one after about 1% of every directory's users changed.
//!
//! * Tenants: sizes spread evenly on a log scale from 50 to 5,000 users
//!   (about 1,075 on average: 1,000 tenants hold about a million users),
//!   every other org an Okta org, the others Entra tenants; each tenant on
//!   an org of its own unless `orgs` is fewer than `tenants` (then tenants
//!   share orgs, each with an IdP org key of its own, as if on its own org).
//!   Tenants are spread over the sizes, so big and small ones mix in the
//!   claim order.
//! * A pass starts when every connection is made due at once (the worst
//!   case the schedule's jitter avoids) and ends when every tenant has a
//!   run written.
//! * The floor of a pass: per tenant, the fetch floor ([`FetchFloor`]: the
//!   latency times the longer of the chain of requests that must follow one
//!   another and the requests over the provider's requests in flight), or
//!   the second sync's floor ([`crate::incremental::Floor`]), summed over
//!   the tenants and divided by the fleet's slots (workers x concurrency).
//! * Worker memory: each worker's peak resident set (`VmHWM` in
//!   `/proc/<pid>/status`), above its resident set once connected and idle,
//!   against its concurrency times the largest tenant's snapshot (as JSON).
//!
//! The workers are a binary run again as a worker (see [`worker_main`]): it
//! reads the secrets from the first line of its stdin (never a database row
//! or its environment), says `ready` on stdout, and stops (finishing what it
//! holds) when its stdin closes.

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use azure_directory::testkit::{SimulatedTenant, TenantHandle};
use chrono::Utc;
use directory_core::testing::OrgSpec;
use directory_core::Snapshot;
use okta_directory::testkit::OktaOrg;
use recipient_reconcile::{Attribute, Mapping, Policy};
use sqlx::PgPool;
use sync_runner::{Connection, PgStore, RunnerStore, Schedule};

use crate::fetch::FetchFloor;
use crate::incremental::{
    azure_floor, change_one_percent_azure, change_one_percent_okta, okta_floor, Floor,
};
use crate::runner_support::fleet::{one_location, run_worker, worker_config, PgHost, HOST_TABLES};
use crate::runner_support::observe::{average_snapshot_bytes, progress, runner_bytes};
use crate::runner_support::orgs::{self, SimulatedOrg};
use crate::table::process_cpu;

/// The bench's errors: each says what failed.
pub type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// Set in a worker process: its id.
pub const WORKER_ENV: &str = "FLEET_BENCH_WORKER";
const SCHEMA_ENV: &str = "FLEET_BENCH_SCHEMA";
const CONCURRENCY_ENV: &str = "FLEET_BENCH_CONCURRENCY";

/// Requests in flight of an Okta provider as `HostFactory` builds it (the
/// default: 80% of the org's concurrency limit of 75).
pub const OKTA_IN_FLIGHT: usize = 60;
/// Requests in flight of an Entra provider as `HostFactory` builds it (the default).
pub const ENTRA_IN_FLIGHT: usize = 8;

/// `DATABASE_URL`, or the project's server.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The fleet's shape.
#[derive(Debug, Clone, Copy)]
pub struct FleetSize {
    /// Tenants (connections).
    pub tenants: usize,
    /// Simulated orgs (at most `tenants`).
    pub orgs: usize,
    /// The smallest tenant's users.
    pub min_users: usize,
    /// The largest tenant's users.
    pub max_users: usize,
    /// Latency added to every request.
    pub latency: Duration,
    /// Worker processes.
    pub workers: usize,
    /// Syncs each worker runs at once.
    pub concurrency: usize,
}

impl FleetSize {
    /// The issue's: 1,000 tenants of 50 to 5,000 users, each on its own
    /// org, 20 ms a request, three workers syncing four tenants each.
    pub fn issue() -> Self {
        FleetSize {
            tenants: 1_000,
            orgs: 1_000,
            min_users: 50,
            max_users: 5_000,
            latency: Duration::from_millis(20),
            workers: 3,
            concurrency: 4,
        }
    }

    /// Users of org `k`: spread evenly on a log scale over the orgs.
    pub fn users_of(&self, k: usize) -> usize {
        let (lo, hi) = (
            self.min_users as f64,
            self.max_users.max(self.min_users) as f64,
        );
        let t = if self.orgs > 1 {
            k as f64 / (self.orgs - 1) as f64
        } else {
            0.0
        };
        (lo * (hi / lo).powf(t)).round() as usize
    }

    /// The org tenant `i` connects to: a stride through the orgs, so sizes
    /// mix in the claim order.
    pub fn org_of(&self, i: usize) -> usize {
        let orgs = self.orgs.max(1);
        let stride = [7_919, 613, 97, 1]
            .into_iter()
            .find(|s| gcd(*s, orgs) == 1)
            .unwrap_or(1);
        (i * stride) % orgs
    }

    /// Users over every tenant.
    pub fn total_users(&self) -> usize {
        (0..self.tenants)
            .map(|i| self.users_of(self.org_of(i)))
            .sum()
    }

    /// The fleet's sync slots.
    pub fn slots(&self) -> usize {
        (self.workers * self.concurrency).max(1)
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A simulated org's server.
enum Server {
    Okta(OktaOrg),
    Entra(TenantHandle),
}

/// A simulated org, its connection settings and its floors.
struct Org {
    server: Server,
    org: SimulatedOrg,
    users: usize,
    fetch: FetchFloor,
    in_flight: usize,
}

impl Server {
    fn truth(&self) -> Snapshot {
        match self {
            Server::Okta(o) => o.ground_truth(),
            Server::Entra(t) => t.ground_truth(),
        }
    }

    /// Requests served, token requests aside.
    fn served(&self) -> u64 {
        match self {
            Server::Okta(o) => o.total_requests() - o.requests("token"),
            Server::Entra(t) => t.requests().graph(),
        }
    }

    /// Changes about 1% of the users; the second sync's floor for it.
    fn change_one_percent(&self) -> Floor {
        match self {
            Server::Okta(o) => {
                let before = o.ground_truth();
                o.mutate(change_one_percent_okta);
                okta_floor(&before, &o.ground_truth(), false)
            }
            Server::Entra(t) => {
                let before = t.data();
                t.mutate(change_one_percent_azure);
                azure_floor(&before, &t.data())
            }
        }
    }
}

async fn start_org(
    size: &FleetSize,
    k: usize,
    secrets: &mut BTreeMap<String, String>,
) -> Result<Org> {
    let users = size.users_of(k);
    let (groups, app_users) = ((users / 50).max(2), (users / 10).max(1));
    let spec = OrgSpec::default()
        .seed(k as u64 + 1)
        .users(users)
        .groups(groups)
        .app_users(app_users)
        .latency(size.latency)
        .rate_limits(true);
    if k % 2 == 0 {
        let org = OktaOrg::builder()
            .spec(&spec)
            // Tenants sharing an org each stay within their own limit.
            .concurrency_limit(10_000)
            .start()
            .await?;
        let fetch = FetchFloor::okta(&org.ground_truth());
        let settings = orgs::okta(&org, &format!("okta-{k}"), secrets);
        Ok(Org {
            server: Server::Okta(org),
            org: settings,
            users,
            fetch,
            in_flight: OKTA_IN_FLIGHT,
        })
    } else {
        let tenant = SimulatedTenant::builder().spec(&spec).start().await?;
        let fetch = FetchFloor::azure(&tenant.data());
        let settings = orgs::entra(&tenant, &format!("entra-{k}"), secrets);
        Ok(Org {
            server: Server::Entra(tenant),
            org: settings,
            users,
            fetch,
            in_flight: ENTRA_IN_FLIGHT,
        })
    }
}

/// What one pass did, from the run history.
#[derive(Debug, Clone, Default)]
pub struct PassFigures {
    /// From making every connection due to the last run written.
    pub wall: Duration,
    /// Runs written.
    pub runs: i64,
    /// Tenants with a run.
    pub tenants: i64,
    /// Failed runs.
    pub failed: i64,
    /// Runs whose plan was held.
    pub held: i64,
    /// Full rounds.
    pub full: i64,
    /// Incremental rounds.
    pub incremental: i64,
    /// Requests the runs recorded (the providers' count, token requests aside).
    pub requests: i64,
    /// Requests the simulated orgs served meanwhile (token requests aside,
    /// `check()`'s probes included).
    pub served: u64,
    /// Operations in applied plans.
    pub applied_ops: i64,
    /// CPU time of the worker processes during the pass.
    pub worker_cpu: Duration,
    /// CPU time of this process (the simulated orgs) during the pass.
    pub orgs_cpu: Duration,
    /// The pass's floor: the tenants' floors over the fleet's slots.
    pub floor: Duration,
    /// The fewest requests (token requests aside). For the first pass,
    /// those of a collection (`Snapshot::collect`); a full round through
    /// Graph's delta queries reads group members inline and may make fewer.
    pub floor_requests: u64,
}

/// Everything the bench measured.
#[derive(Debug, Clone)]
pub struct FleetFigures {
    /// The fleet's shape.
    pub size: FleetSize,
    /// Users over every tenant.
    pub users: usize,
    /// The largest tenant's users.
    pub largest_users: usize,
    /// The largest tenant's snapshot, as JSON.
    pub largest_snapshot_json: usize,
    /// The first, full pass.
    pub first: PassFigures,
    /// The second, incremental pass (about 1% changed).
    pub second: PassFigures,
    /// Each worker's resident set once connected and idle, in bytes.
    pub idle_rss: Vec<u64>,
    /// Each worker's peak resident set after the first pass, in bytes.
    pub peak_after_first: Vec<u64>,
    /// Each worker's peak resident set at the end, in bytes.
    pub peak: Vec<u64>,
    /// The runner's tables after the first pass, in bytes.
    pub db_bytes_first: i64,
    /// The runner's tables at the end (two runs per tenant), in bytes.
    pub db_bytes: i64,
    /// The average kept snapshot (gzip), in bytes.
    pub snapshot_gz: i64,
    /// Time to start the simulated orgs.
    pub setup: Duration,
}

/// A worker process, as the bench sees it.
struct Worker {
    child: Child,
    pid: u32,
    /// Held open, so the worker never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

/// `VmHWM` / `VmRSS` of a process, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| {
            v.trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// User + system CPU of a process (100 ticks a second).
fn proc_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn spawn_worker(
    exe: &Path,
    id: &str,
    schema: &str,
    size: &FleetSize,
    secrets: &str,
) -> Result<Worker> {
    let mut child = Command::new(exe)
        // As a host's worker should be started on glibc: see
        // `sync_runner::WORKER_MALLOC_ENV`.
        .envs(sync_runner::WORKER_MALLOC_ENV)
        .env(WORKER_ENV, id)
        .env(SCHEMA_ENV, schema)
        .env(CONCURRENCY_ENV, size.concurrency.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting worker {} ({}): {e}", id, exe.display()))?;
    let pid = child.id();
    let mut stdin = child.stdin.take().ok_or("the worker has no stdin")?;
    writeln!(stdin, "{secrets}")?;
    child.stdin = Some(stdin);
    let mut stdout = BufReader::new(child.stdout.take().ok_or("the worker has no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    if line.trim() != "ready" {
        return Err(format!("worker {id} did not start: see its output above").into());
    }
    Ok(Worker {
        child,
        pid,
        _stdout: stdout,
    })
}

/// A worker process's `main`: connects, says `ready`, and runs until its
/// stdin closes.
pub async fn worker_main(worker_id: &str) -> Result<()> {
    let schema = std::env::var(SCHEMA_ENV).map_err(|_| format!("{SCHEMA_ENV} is not set"))?;
    let concurrency: usize = std::env::var(CONCURRENCY_ENV)
        .map_err(|_| format!("{CONCURRENCY_ENV} is not set"))?
        .parse()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let secrets: BTreeMap<String, String> = serde_json::from_str(&line)?;
    let store = PgStore::connect_in_schema(&database_url(), &schema).await?;
    println!("ready");
    std::io::stdout().flush()?;
    run_worker(store, worker_id, secrets, worker_config(concurrency)).await;
    Ok(())
}

/// Runs the bench: orgs, workers (`worker_exe` run again with
/// [`WORKER_ENV`]), two passes; the schema is dropped at the end.
pub async fn run(size: FleetSize, worker_exe: &Path) -> Result<FleetFigures> {
    let schema = format!("fleet_bench_{}", std::process::id());
    let store = PgStore::connect_in_schema(&database_url(), &schema).await?;
    let pool = store.pool().clone();
    drop_abandoned_schemas(&pool).await?;
    let outcome = run_in(size, worker_exe, &store, &schema).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await?;
    pool.close().await;
    outcome
}

/// Drops the schema of every earlier run whose process is gone (a bench
/// killed before its own `DROP SCHEMA`), so killed runs leave nothing
/// behind for long. A schema whose process still runs (on this machine) is
/// another bench's and stays.
async fn drop_abandoned_schemas(pool: &sqlx::PgPool) -> Result<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'fleet\\_bench\\_%'",
    )
    .fetch_all(pool)
    .await?;
    for name in names {
        let Some(pid) = name.strip_prefix("fleet_bench_") else {
            continue;
        };
        let alive = pid.parse::<u32>().is_ok_and(|pid| {
            pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
        });
        if !alive && pid.chars().all(|c| c.is_ascii_digit()) {
            eprintln!("fleet: dropping {name}, left by a run that was killed");
            sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

async fn run_in(
    size: FleetSize,
    exe: &Path,
    store: &PgStore,
    schema: &str,
) -> Result<FleetFigures> {
    let pool = store.pool();
    sqlx::raw_sql(HOST_TABLES).execute(pool).await?;
    let started = Instant::now();
    let mut secrets = BTreeMap::new();
    let orgs = start_orgs(&size, &mut secrets).await?;
    let setup = started.elapsed();
    let largest = orgs.iter().max_by_key(|o| o.users).ok_or("no org")?;
    let largest_snapshot_json = serde_json::to_vec(&largest.server.truth())?.len();
    register(store, &size, &orgs).await?;
    let handed = serde_json::to_string(&secrets)?;
    let mut workers = (1..=size.workers)
        .map(|w| spawn_worker(exe, &format!("worker-{w}"), schema, &size, &handed))
        .collect::<Result<Vec<_>>>()?;
    let idle_rss = memory(&workers, "VmRSS");

    let fetch: Vec<_> = orgs
        .iter()
        .map(|o| (o.fetch.wall(size.latency, o.in_flight), o.fetch.requests))
        .collect();
    let first = pass(pool, &size, &orgs, &mut workers, fleet_floor(&size, &fetch)).await?;
    let peak_after_first = memory(&workers, "VmHWM");
    let db_bytes_first = runner_bytes(pool).await?;
    let snapshot_gz = average_snapshot_bytes(pool).await?;

    eprintln!("fleet: changing about 1% of every org's users");
    let second_floors: Vec<_> = orgs
        .iter()
        .map(|o| {
            let f = o.server.change_one_percent();
            (f.wall(size.latency, o.in_flight), f.requests())
        })
        .collect();
    let second = pass(
        pool,
        &size,
        &orgs,
        &mut workers,
        fleet_floor(&size, &second_floors),
    )
    .await?;
    let peak = memory(&workers, "VmHWM");
    stop(workers)?;
    Ok(FleetFigures {
        size,
        users: size.total_users(),
        largest_users: largest.users,
        largest_snapshot_json,
        first,
        second,
        idle_rss,
        peak_after_first,
        peak,
        db_bytes_first,
        db_bytes: runner_bytes(pool).await?,
        snapshot_gz,
        setup,
    })
}

async fn start_orgs(size: &FleetSize, secrets: &mut BTreeMap<String, String>) -> Result<Vec<Org>> {
    let started = Instant::now();
    let mut orgs = Vec::with_capacity(size.orgs);
    for k in 0..size.orgs.clamp(1, size.tenants.max(1)) {
        orgs.push(start_org(size, k, secrets).await?);
    }
    eprintln!(
        "fleet: {} orgs started in {:.1}s",
        orgs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(orgs)
}

/// A pass's floor from each org's (wall-time floor, requests): summed over
/// the tenants, the time over the fleet's slots.
fn fleet_floor(size: &FleetSize, per_org: &[(Duration, u64)]) -> (Duration, u64) {
    let tenants =
        (0..size.tenants).filter_map(|i| per_org.get(size.org_of(i) % per_org.len().max(1)));
    let (wall, requests) = tenants.fold((Duration::ZERO, 0), |(w, r), (fw, fr)| (w + *fw, r + fr));
    (wall / size.slots() as u32, requests)
}

/// Each worker's `VmRSS` or `VmHWM`.
fn memory(workers: &[Worker], field: &str) -> Vec<u64> {
    workers
        .iter()
        .map(|w| proc_status_bytes(w.pid, field))
        .collect()
}

/// The tenants' policy: the default, with the users' titles kept too (so
/// the second pass's title changes are applied).
fn policy() -> Policy {
    Policy {
        mapping: Mapping::default().field("title", Attribute::Title),
        ..Policy::default()
    }
}

/// Registers every tenant, due tomorrow (a pass makes them due).
async fn register(store: &PgStore, size: &FleetSize, orgs: &[Org]) -> Result<()> {
    let tomorrow = Utc::now() + chrono::TimeDelta::days(1);
    for i in 0..size.tenants {
        let org = &orgs[size.org_of(i) % orgs.len()];
        let tenant_id = format!("tenant-{i:05}");
        PgHost::set(
            store.pool(),
            &tenant_id,
            &one_location("hq", "Headquarters", vec![]),
        )
        .await?;
        let connection = Connection {
            id: format!("c{i:05}"),
            tenant_id,
            provider: org.org.provider.clone(),
            idp_org_key: format!("{}#{i}", org.org.key),
            policy: policy(),
            schedule: Schedule::every(Duration::from_secs(86_400)),
            enabled: true,
        };
        store.put_connection(connection, tomorrow).await?;
    }
    Ok(())
}

/// Makes every connection due, waits until each has a run written, and
/// reads what the pass did; `floor` is its (wall time, requests) floor.
async fn pass(
    pool: &PgPool,
    size: &FleetSize,
    orgs: &[Org],
    workers: &mut [Worker],
    floor: (Duration, u64),
) -> Result<PassFigures> {
    let after_seq: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM runner_runs")
        .fetch_one(pool)
        .await?;
    let served = orgs.iter().map(|o| o.server.served()).sum::<u64>();
    let cpu = workers.iter().map(|w| proc_cpu(w.pid)).sum::<Duration>();
    let own_cpu = process_cpu();
    sqlx::query("UPDATE runner_connections SET due_at = now()")
        .execute(pool)
        .await?;
    let started = Instant::now();
    wait_for_runs(pool, i64::try_from(size.tenants)?, workers, after_seq).await?;
    let wall = started.elapsed();
    Ok(PassFigures {
        wall,
        served: orgs.iter().map(|o| o.server.served()).sum::<u64>() - served,
        worker_cpu: workers
            .iter()
            .map(|w| proc_cpu(w.pid))
            .sum::<Duration>()
            .saturating_sub(cpu),
        orgs_cpu: process_cpu()
            .zip(own_cpu)
            .map_or(Duration::ZERO, |(a, b)| a.saturating_sub(b)),
        floor: floor.0,
        floor_requests: floor.1,
        ..history(pool, after_seq).await?
    })
}

/// Polls until `total` tenants have a run numbered above `after_seq`,
/// showing progress every 10 s; fails if a worker exits.
async fn wait_for_runs(
    pool: &PgPool,
    total: i64,
    workers: &mut [Worker],
    after_seq: i64,
) -> Result<()> {
    let (started, mut shown) = (Instant::now(), Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = progress(pool, after_seq).await?;
        if now.done >= total {
            return Ok(());
        }
        if shown.elapsed() >= Duration::from_secs(10) {
            shown = Instant::now();
            eprintln!(
                "[{:>6.1}s] done {}/{total}  running {}  failed {}  requests {}",
                started.elapsed().as_secs_f64(),
                now.done,
                now.running,
                now.failed,
                now.requests
            );
        }
        if let Some(code) = workers
            .iter_mut()
            .find_map(|w| w.child.try_wait().ok().flatten())
        {
            return Err(format!("a worker exited during the pass ({code})").into());
        }
    }
}

/// What the runs numbered above `after_seq` say.
async fn history(pool: &PgPool, after_seq: i64) -> Result<PassFigures> {
    let row: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT connection_id), \
           count(*) FILTER (WHERE outcome ? 'failed'), count(*) FILTER (WHERE outcome ? 'held'), \
           count(*) FILTER (WHERE kind ? 'full'), \
           count(*) FILTER (WHERE kind = '\"incremental\"'::jsonb), \
           coalesce(sum(requests), 0)::bigint, \
           coalesce(sum(creates + updates + reactivations + deactivations) \
             FILTER (WHERE outcome ? 'applied'), 0)::bigint \
         FROM runner_runs WHERE seq > $1",
    )
    .bind(after_seq)
    .fetch_one(pool)
    .await?;
    Ok(PassFigures {
        runs: row.0,
        tenants: row.1,
        failed: row.2,
        held: row.3,
        full: row.4,
        incremental: row.5,
        requests: row.6,
        applied_ops: row.7,
        ..PassFigures::default()
    })
}

/// Closes the workers' stdin (they finish what they hold) and waits for them.
fn stop(mut workers: Vec<Worker>) -> Result<()> {
    for w in &mut workers {
        drop(w.child.stdin.take());
    }
    for w in &mut workers {
        let status = w.child.wait()?;
        if !status.success() {
            return Err(format!("worker {} exited with {status}", w.pid).into());
        }
    }
    Ok(())
}
