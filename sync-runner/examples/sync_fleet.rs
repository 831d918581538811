//! `sync_fleet`: tenants on simulated Okta orgs and Entra tenants of mixed
//! sizes (real HTTP on 127.0.0.1), synced by several worker processes that
//! share one PostgreSQL database and nothing else; progress while they run
//! and a summary at the end.
//!
//! ```text
//! cargo run -p sync-runner --features postgres --example sync_fleet -- --tenants 120 --workers 3
//! ```
//!
//! The database comes from `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); the fleet works in a schema
//! of its own, `sync_fleet_<pid>`, dropped at the end unless `--keep`.
//! Some tenants are set up to show the other outcomes: the ones on a
//! misconfigured Okta org fail with check()'s fix, and every 25th tenant
//! holds records the directory no longer has, so its plan trips the safety
//! limit and is held for review.
//!
//! The workers are this program again, started with `SYNC_FLEET_WORKER`:
//! a worker stops (finishing what it holds) when its stdin closes.

mod support;

use std::collections::BTreeMap;
use std::error::Error;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use azure_directory::testkit::{SimulatedTenant, TenantHandle};
use chrono::Utc;
use okta_directory::testkit::{Misconfig, OktaOrg};
use recipient_reconcile::{Policy, Recipient, Source};
use sqlx::PgPool;
use support::fleet::{one_location, run_worker, worker_config, PgHost, HOST_TABLES};
use support::observe::{average_snapshot_bytes, progress, runner_bytes, Progress};
use support::orgs::{self, SimulatedOrg};
use sync_runner::{Connection, PgStore, RunnerStore, Schedule};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

const WORKER_ENV: &str = "SYNC_FLEET_WORKER";
const SCHEMA_ENV: &str = "SYNC_FLEET_SCHEMA";
const SECRETS_ENV: &str = "SYNC_FLEET_SECRETS";

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sync_fleet: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = match std::env::var(WORKER_ENV) {
        Ok(worker_id) => rt.block_on(worker(&worker_id)),
        Err(_) => rt.block_on(fleet()),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sync_fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One worker process.
async fn worker(worker_id: &str) -> Result<()> {
    let schema = std::env::var(SCHEMA_ENV)?;
    let secrets: BTreeMap<String, String> = serde_json::from_str(&std::env::var(SECRETS_ENV)?)?;
    let store = PgStore::connect_in_schema(&database_url(), &schema).await?;
    run_worker(store, worker_id, secrets, worker_config(4)).await;
    Ok(())
}

struct Args {
    tenants: usize,
    workers: usize,
    keep: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        tenants: 120,
        workers: 3,
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize> {
            let v = it.next().ok_or(format!("{name} needs a number"))?;
            Ok(v.parse().map_err(|e| format!("{name} {v}: {e}"))?)
        };
        match arg.as_str() {
            "--tenants" => a.tenants = number("--tenants")?.max(1),
            "--workers" => a.workers = number("--workers")?.max(1),
            "--keep" => a.keep = true,
            other => {
                return Err(format!(
                    "unknown argument {other}: use --tenants N, --workers N, --keep"
                )
                .into())
            }
        }
    }
    Ok(a)
}

/// A simulated org the tenants connect to.
struct Org {
    name: String,
    org: SimulatedOrg,
}

/// Keeps the simulated servers running while held.
type Servers = (Vec<OktaOrg>, Vec<TenantHandle>);

async fn start_orgs(secrets: &mut BTreeMap<String, String>) -> Result<(Vec<Org>, Servers)> {
    let (mut orgs, mut okta, mut entra) = (Vec::new(), Vec::new(), Vec::new());
    let latency = Duration::from_millis(20);
    for (j, users) in [20usize, 80, 200, 500, 30].into_iter().enumerate() {
        let org = OktaOrg::builder()
            .seed(j as u64 + 1)
            .users(users)
            .groups(4)
            .app_users(users / 2)
            .latency(latency)
            .start()
            .await?;
        let broken = j == 4;
        if broken {
            org.misconfigure(Misconfig::NoAdminRole);
        }
        orgs.push(Org {
            name: format!(
                "okta {users} users{}",
                if broken { " (no admin role)" } else { "" }
            ),
            org: orgs::okta(&org, &format!("okta-key-{j}"), secrets),
        });
        okta.push(org);
    }
    for (j, users) in [40usize, 150, 400].into_iter().enumerate() {
        let tenant = SimulatedTenant::builder()
            .users(users)
            .groups(4)
            .app_users(users / 2)
            .latency(latency)
            .start()
            .await?;
        orgs.push(Org {
            name: format!("entra {users} users"),
            org: orgs::entra(&tenant, &format!("graph-secret-{j}"), secrets),
        });
        entra.push(tenant);
    }
    Ok((orgs, (okta, entra)))
}

/// Records of people the directory does not have (owned by the directory),
/// so the plan deactivates them all: over the safety limit, held.
fn stale_records(n: usize) -> Vec<Recipient> {
    (0..n)
        .map(|k| {
            Recipient::new(
                format!("old{k}"),
                "hq",
                Source::Directory,
                format!("left{k}@example.test"),
            )
            .with_external_id(format!("gone-{k}"))
        })
        .collect()
}

async fn register(store: &PgStore, pool: &PgPool, orgs: &[Org], tenants: usize) -> Result<()> {
    let now = Utc::now();
    for i in 0..tenants {
        let org = orgs
            .get(i % orgs.len())
            .ok_or("no simulated org was started")?;
        let tenant_id = format!("tenant-{i:04}");
        let records = if i % 25 == 7 {
            stale_records(30)
        } else {
            vec![]
        };
        PgHost::set(
            pool,
            &tenant_id,
            &one_location("hq", "Headquarters", records),
        )
        .await?;
        store
            .put_connection(
                Connection {
                    id: format!("c{i:04}"),
                    tenant_id,
                    provider: org.org.provider.clone(),
                    // Tenants share simulated orgs, each with its own key
                    // (as if its own org); the first two on an org share one.
                    idp_org_key: format!("{}#{}", org.org.key, i.max(orgs.len()) - orgs.len()),
                    policy: Policy::default(),
                    schedule: Schedule::every(Duration::from_secs(86_400))
                        .jitter(Duration::from_secs(3_600)),
                    enabled: true,
                },
                now,
            )
            .await?;
    }
    Ok(())
}

fn spawn_worker(id: &str, schema: &str, secrets: &str) -> Result<Child> {
    Ok(Command::new(std::env::current_exe()?)
        .envs(sync_runner::WORKER_MALLOC_ENV)
        .env(WORKER_ENV, id)
        .env(SCHEMA_ENV, schema)
        .env(SECRETS_ENV, secrets)
        .stdin(Stdio::piped())
        .spawn()?)
}

async fn fleet() -> Result<()> {
    let args = args()?;
    let url = database_url();
    let schema = format!("sync_fleet_{}", std::process::id());
    let store = PgStore::connect_in_schema(&url, &schema).await?;
    let pool = store.pool().clone();
    let outcome = run_fleet(&args, &store, &pool, &schema).await;
    if args.keep {
        println!("kept schema {schema}");
    } else {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await?;
    }
    outcome
}

async fn run_fleet(args: &Args, store: &PgStore, pool: &PgPool, schema: &str) -> Result<()> {
    sqlx::raw_sql(HOST_TABLES).execute(pool).await?;
    let mut secrets = BTreeMap::new();
    let (orgs, _servers) = start_orgs(&mut secrets).await?;
    println!("simulated orgs:");
    for o in &orgs {
        println!("  {}", o.name);
    }
    register(store, pool, &orgs, args.tenants).await?;
    println!(
        "{} tenants registered; starting {} worker processes",
        args.tenants, args.workers
    );
    let secrets = serde_json::to_string(&secrets)?;
    let started = Instant::now();
    let mut workers = (1..=args.workers)
        .map(|w| spawn_worker(&format!("worker-{w}"), schema, &secrets))
        .collect::<Result<Vec<_>>>()?;

    let total = i64::try_from(args.tenants)?;
    let mut last = Progress::default();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = progress(pool, 0).await?;
        if now != last {
            println!(
                "[{:>6.1}s] done {:>4}/{total}  running {:>2}  failed {:>3}  held {:>3}  requests {:>6}  operations applied {:>7}",
                started.elapsed().as_secs_f64(),
                now.done, now.running, now.failed, now.held, now.requests, now.applied_ops
            );
        }
        let finished = now.done >= total;
        last = now;
        if finished {
            break;
        }
        if let Some(code) = workers.iter_mut().find_map(|w| w.try_wait().ok().flatten()) {
            return Err(format!("a worker exited early ({code}): see its output above").into());
        }
    }
    let elapsed = started.elapsed();
    for w in &mut workers {
        drop(w.stdin.take());
    }
    for w in &mut workers {
        w.wait()?;
    }
    summary(pool, args.tenants, elapsed, &last).await
}

async fn summary(pool: &PgPool, tenants: usize, elapsed: Duration, last: &Progress) -> Result<()> {
    println!("\nsummary");
    let minutes = elapsed.as_secs_f64() / 60.0;
    println!(
        "  {tenants} tenants in {:.1}s ({:.0} tenants/minute)",
        elapsed.as_secs_f64(),
        tenants as f64 / minutes.max(f64::EPSILON)
    );
    let per_worker: Vec<(String, i64)> = sqlx::query_as(
        "SELECT worker_id, count(*) FROM runner_runs GROUP BY worker_id ORDER BY worker_id",
    )
    .fetch_all(pool)
    .await?;
    for (worker, runs) in per_worker {
        println!("  {worker}: {runs} runs");
    }
    println!(
        "  {} requests to the IdPs, {} operations applied",
        last.requests, last.applied_ops
    );
    let failed: Option<(i64, String)> = sqlx::query_as(
        "SELECT count(*) OVER (), coalesce(outcome->'failed'->'fixes'->>0, \
         outcome->'failed'->>'message') FROM runner_runs WHERE outcome ? 'failed' LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    if let Some((n, message)) = failed {
        println!("  {n} failed (retried with backoff); first fix: {message}");
    }
    let held: Option<(i64, String)> = sqlx::query_as(
        "SELECT count(*) OVER (), safety FROM runner_held_plans ORDER BY connection_id LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    if let Some((n, safety)) = held {
        println!("  {n} plans held for review; e.g.: {safety}");
    }
    let bytes = runner_bytes(pool).await?;
    let snapshot = average_snapshot_bytes(pool).await?;
    println!(
        "  the runner's tables: {} KiB with indexes, {} bytes per tenant; \
         a snapshot averages {snapshot} bytes (gzip)",
        bytes / 1024,
        bytes / i64::try_from(tenants.max(1))?
    );
    Ok(())
}
