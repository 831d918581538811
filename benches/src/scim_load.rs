//! Two `scim_server` processes on one PostgreSQL database, driven at once
//! by Okta's and Entra's request mix for many tenants (issue 16).
//!
//! [`run`] makes a schema of its own in `DATABASE_URL`, creates the tenants
//! there, builds and starts the real example server twice on it, and gives
//! every tenant an Okta client and an Entra client (each alternating
//! between the servers request by request, as a load balancer would) plus
//! contended creates of one userName on both servers at the same moment.
//! Clients send back to back (closed loop). Afterwards every tenant's users
//! and groups are read back page by page and compared with what the
//! clients got a 2xx for: nothing lost, nothing twice, no 5xx, exactly one
//! 201 per contended userName. The schema is dropped at the end.

mod server;
mod traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scim_directory::{PgStore, ScimService};
use serde_json::Value;

use traffic::{Client, Log, Model, Tenant};

/// Any failure to set the run up (not a finding of the run).
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The run's size.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The PostgreSQL server (a schema of the run's own is made and dropped).
    pub database_url: String,
    /// Tenants served at once.
    pub tenants: usize,
    /// Users each of a tenant's two clients provisions.
    pub users_per_client: usize,
    /// Groups each client pushes.
    pub groups_per_client: usize,
    /// userNames per tenant created on both servers at once.
    pub contended_per_tenant: usize,
    /// Sizes of more tenants, loaded straight into the store and imported
    /// through the first server in 200-user pages after the load, smallest
    /// first: the server's peak memory after each must not grow with the
    /// tenant's size.
    pub import_sizes: Vec<usize>,
    /// Requests a second each tenant's Okta and Entra clients offer
    /// together (one schedule, whichever client sends; the contended
    /// creates are spread over the run besides); `None`: back to back, as
    /// fast as the servers answer. Paced, a latency counts from when the
    /// request was due.
    pub pace: Option<f64>,
    /// Each server's PostgreSQL connections (`--db-connections`); `None`:
    /// the store's default.
    pub db_connections: Option<u32>,
}

impl LoadConfig {
    /// Issue 16's run: 50 tenants, 20 users and 2 groups per client, 5
    /// contended userNames per tenant (about 230 requests per tenant).
    pub fn issue(database_url: String) -> Self {
        Self {
            database_url,
            tenants: 50,
            users_per_client: 20,
            groups_per_client: 2,
            contended_per_tenant: 5,
            import_sizes: vec![1_000, 100_000],
            pace: None,
            // Two servers on a 2-core database: 8 connections in all, a
            // few per core (10 each cost the database a fifth more CPU
            // per request in context switches).
            db_connections: Some(4),
        }
    }

    /// A small run for tests.
    pub fn small(database_url: String) -> Self {
        Self {
            database_url,
            tenants: 4,
            users_per_client: 4,
            groups_per_client: 1,
            contended_per_tenant: 3,
            import_sizes: vec![200, 2_000],
            pace: None,
            db_connections: None,
        }
    }
}

/// One tenant's figures.
#[derive(Debug, Clone)]
pub struct TenantFigures {
    /// The tenant id.
    pub tenant: String,
    /// Requests its clients sent.
    pub requests: usize,
    /// Requests per second over the tenant's own run.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// One tenant's import through a server after the load.
#[derive(Debug, Clone)]
pub struct ImportFigures {
    /// The tenant's users.
    pub users: usize,
    /// Users the import read.
    pub read: usize,
    /// The whole import, every 200-user page.
    pub took: Duration,
    /// The server's peak resident memory after it (bytes; Linux only).
    pub peak_rss: Option<u64>,
}

/// What a run measured and found.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests sent by every client.
    pub requests: usize,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Median and 99th percentile latency over all requests.
    pub p50: Duration,
    /// See `p50`.
    pub p99: Duration,
    /// Per tenant.
    pub tenants: Vec<TenantFigures>,
    /// Users, groups and memberships the servers hold, all as the clients were told.
    pub verified: (usize, usize, usize),
    /// Contended userNames tried.
    pub contended: usize,
    /// Of them, how many did not end in one 201 and one 409.
    pub contended_failures: usize,
    /// Peak resident memory of the first server after the load (bytes;
    /// Linux, else `None`).
    pub peak_rss_after_load: Option<u64>,
    /// Per tenant of [`LoadConfig::import_sizes`]: its size, the users its
    /// import read, how long the import took, and the first server's peak
    /// resident memory after it.
    pub imports: Vec<ImportFigures>,
    /// Every finding: unexpected status (5xx included), transport failure,
    /// lost, duplicated or unexpected user, group or membership.
    pub problems: Vec<String>,
}

impl LoadReport {
    /// Aggregate requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Runs the load on a fresh schema and drops it afterwards.
pub async fn run(config: &LoadConfig) -> Result<LoadReport, Failure> {
    let schema = format!("scim_load_{}", uuid::Uuid::new_v4().simple());
    let store = PgStore::connect_in_schema(&config.database_url, &schema).await?;
    let dir = std::env::temp_dir().join(&schema);
    std::fs::create_dir_all(&dir)?;
    let report = run_in(config, &store, &schema, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(store.pool())
        .await?;
    report
}

async fn run_in(
    config: &LoadConfig,
    store: &PgStore,
    schema: &str,
    dir: &std::path::Path,
) -> Result<LoadReport, Failure> {
    let service = ScimService::new(Arc::new(store.clone()));
    let mut tokens = Vec::new();
    for t in 0..config.tenants {
        let id = format!("t{t}");
        let created = service.create_tenant(&id, &id).await?;
        tokens.push((id, created.token.expose_secret().to_string()));
    }
    let mut sized = Vec::new();
    for &n in &config.import_sizes {
        let id = format!("size{n}");
        let created = service.create_tenant(&id, &id).await?;
        load_users(store, &id, n).await?;
        sized.push((id, n, created.token.expose_secret().to_string()));
    }
    let bin = server::build()?;
    let url = &config.database_url;
    let a = server::Server::start(&bin, url, schema, config.db_connections, dir).await?;
    let b = server::Server::start(&bin, url, schema, config.db_connections, dir).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let tenants: Vec<Tenant> = tokens
        .into_iter()
        .map(|(id, token)| Tenant {
            http: http.clone(),
            servers: [a.prefix.clone(), b.prefix.clone()],
            id,
            token,
        })
        .collect();
    warm_up(&tenants).await;
    let started = Instant::now();
    let runs: Vec<_> = tenants
        .iter()
        .map(|t| tokio::spawn(tenant_run(t.clone(), config.clone())))
        .collect();
    let mut results = Vec::new();
    for r in runs {
        results.push(r.await?);
    }
    let elapsed = started.elapsed();
    let mut report = report(results.iter().map(|(log, d)| (log, *d)), &tenants, elapsed);
    report.contended = config.tenants * config.contended_per_tenant;
    for (tenant, (log, _)) in tenants.iter().zip(&results) {
        verify(tenant, &log.model, &mut report).await;
    }
    report.peak_rss_after_load = a.peak_rss();
    for (id, n, token) in sized {
        let tenant = Tenant {
            http: http.clone(),
            servers: [a.prefix.clone(), a.prefix.clone()],
            id,
            token,
        };
        let started = Instant::now();
        let read = read_all(&tenant, "/Users", 200, &mut report.problems).await;
        let took = started.elapsed();
        let ids: BTreeSet<&str> = read.iter().filter_map(|u| u["id"].as_str()).collect();
        if ids.len() != n || read.len() != n {
            report.problems.push(format!(
                "{}: the import read {} users ({} distinct), not {n}",
                tenant.id,
                read.len(),
                ids.len(),
            ));
        }
        report.imports.push(ImportFigures {
            users: n,
            read: read.len(),
            took,
            peak_rss: a.peak_rss(),
        });
    }
    drop((a, b));
    Ok(report)
}

/// What a server that has been running for a while has: its pool's
/// database connections open and their sessions warm (catalog caches,
/// prepared statements). Fresh servers would otherwise open them under the
/// first burst of the load and count that in its latencies. Every tenant
/// reads one page of users and looks a userName up on each server, 50 at a
/// time, twice. Not counted in the figures.
async fn warm_up(tenants: &[Tenant]) {
    for _ in 0..2 {
        let reads = tenants.iter().map(|t| async move {
            let mut client = Client::new(t.clone(), 0);
            for _ in 0..2 {
                client.get("/Users?startIndex=1&count=10").await;
                client.get("/Users?filter=userName+eq+%22nobody%22").await;
            }
        });
        futures::future::join_all(reads).await;
    }
}

/// Loads `n` users into `tenant` straight through the store, 1,000 a
/// commit (the SCIM service would take minutes for 100,000 one by one).
async fn load_users(store: &PgStore, tenant: &str, n: usize) -> Result<(), Failure> {
    use scim_directory::{ResourceType, Store, StoredResource, Write};
    let now = chrono::Utc::now();
    let mut i = 0;
    while i < n {
        let batch: Vec<Write> = (i..(i + 1000).min(n))
            .map(|k| {
                Write::Put(StoredResource {
                    resource_type: ResourceType::User,
                    id: uuid::Uuid::new_v4().to_string(),
                    body: serde_json::json!({
                        "userName": format!("user{k}@{tenant}.test"),
                        "externalId": format!("ext-{k}"),
                        "active": true,
                        "name": {"givenName": "User", "familyName": format!("Number {k}")},
                        "emails": [{"value": format!("user{k}@{tenant}.test"), "type": "work", "primary": true}],
                    }),
                    created: now,
                    last_modified: now,
                    version: 1,
                })
            })
            .collect();
        i += batch.len();
        store.commit(tenant, batch, vec![]).await?;
    }
    Ok(())
}

/// One tenant: its shared group, then its Okta client, Entra client and
/// contended creates at once. The merged log and the tenant's own time.
async fn tenant_run(tenant: Tenant, config: LoadConfig) -> (Log, Duration) {
    let started = Instant::now();
    let mut setup = Client::new(tenant.clone(), 0);
    let everyone = traffic::everyone(&mut setup).await;
    let mut log = setup.log;
    let Some(everyone) = everyone else {
        return (log, started.elapsed());
    };
    // The two clients share the tenant's schedule.
    let every = config
        .pace
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(1.0 / rate));
    let pacer = every.map(|every| traffic::Pacer::new(&tenant.id, every));
    let client = |first| Client::new(tenant.clone(), first).paced(pacer.clone());
    let (okta, entra, contended) = tokio::join!(
        traffic::okta(client(0), config.clone(), everyone.clone()),
        traffic::entra(client(1), config.clone(), everyone),
        traffic::contend(tenant, config, every),
    );
    for l in [okta, entra, contended] {
        log.latencies.extend(l.latencies);
        log.problems.extend(l.problems);
        log.contended_failures += l.contended_failures;
        log.model.merge(l.model);
    }
    (log, started.elapsed())
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

fn report<'a>(
    logs: impl Iterator<Item = (&'a Log, Duration)>,
    tenants: &[Tenant],
    elapsed: Duration,
) -> LoadReport {
    let mut all = Vec::new();
    let mut figures = Vec::new();
    let mut problems = Vec::new();
    let mut contended_failures = 0;
    for ((log, took), tenant) in logs.zip(tenants) {
        let mut l = log.latencies.clone();
        l.sort();
        figures.push(TenantFigures {
            tenant: tenant.id.clone(),
            requests: l.len(),
            rps: l.len() as f64 / took.as_secs_f64().max(f64::EPSILON),
            p50: percentile(&l, 0.5),
            p99: percentile(&l, 0.99),
        });
        all.extend(l);
        problems.extend(log.problems.iter().cloned());
        contended_failures += log.contended_failures;
    }
    all.sort();
    LoadReport {
        requests: all.len(),
        elapsed,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        tenants: figures,
        verified: (0, 0, 0),
        contended: 0,
        contended_failures,
        peak_rss_after_load: None,
        imports: Vec::new(),
        problems,
    }
}

/// Reads every user and group of the tenant back, page by page, and
/// compares them with the model: a problem per lost, duplicated,
/// unexpected or different resource and per lost or extra membership.
async fn verify(tenant: &Tenant, model: &Model, report: &mut LoadReport) {
    let t = &tenant.id;
    let mut names = BTreeMap::new();
    let mut users = BTreeMap::new();
    for u in read_all(tenant, "/Users", 100, &mut report.problems).await {
        let id = u["id"].as_str().unwrap_or_default().to_string();
        let name = u["userName"].as_str().unwrap_or_default().to_string();
        *names.entry(name.to_lowercase()).or_insert(0) += 1;
        users.insert(id, (name, u["active"].as_bool().unwrap_or(true)));
    }
    let twice = names.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k);
    let twice: Vec<_> = twice.collect();
    if !twice.is_empty() {
        report
            .problems
            .push(format!("{t}: userNames held twice: {twice:?}"));
    }
    let mut groups = BTreeMap::new();
    for g in read_all(tenant, "/Groups", 100, &mut report.problems).await {
        let id = g["id"].as_str().unwrap_or_default().to_string();
        let name = g["displayName"].as_str().unwrap_or_default().to_string();
        let members = g["members"].as_array().cloned().unwrap_or_default();
        let listed: Vec<String> = members
            .iter()
            .filter_map(|m| m["value"].as_str().map(str::to_string))
            .collect();
        let set: BTreeSet<String> = listed.iter().cloned().collect();
        if set.len() != listed.len() {
            report
                .problems
                .push(format!("{t}: group {name} lists a member twice"));
        }
        groups.insert(id, (name, set));
    }
    compare(t, "user", &model.users, &users, &mut report.problems);
    compare(t, "group", &model.groups, &groups, &mut report.problems);
    let memberships = groups.values().map(|(_, m)| m.len()).sum::<usize>();
    report.verified.0 += users.len();
    report.verified.1 += groups.len();
    report.verified.2 += memberships;
}

fn compare<V: PartialEq + std::fmt::Debug>(
    tenant: &str,
    kind: &str,
    want: &BTreeMap<String, V>,
    got: &BTreeMap<String, V>,
    problems: &mut Vec<String>,
) {
    for (id, w) in want {
        match got.get(id) {
            None => problems.push(format!("{tenant}: {kind} {id} {w:?} lost")),
            Some(g) if g != w => {
                problems.push(format!("{tenant}: {kind} {id} is {g:?}, not {w:?}"))
            }
            Some(_) => {}
        }
    }
    for (id, g) in got {
        if !want.contains_key(id) {
            problems.push(format!("{tenant}: {kind} {id} {g:?} no client was told of"));
        }
    }
}

/// Every resource at `path`, `count` a page, from the first server.
async fn read_all(
    tenant: &Tenant,
    path: &str,
    count: usize,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    let mut all = Vec::new();
    let mut reader = Client::new(tenant.clone(), 0);
    loop {
        let page_path = format!("{path}?startIndex={}&count={count}", all.len() + 1);
        let Some(page) = reader.get(&page_path).await else {
            problems.append(&mut reader.log.problems);
            return all;
        };
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
        let empty = resources.is_empty();
        all.extend(resources);
        if empty || all.len() >= total {
            return all;
        }
    }
}
