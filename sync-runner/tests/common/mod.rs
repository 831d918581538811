//! Fixtures shared by the runner's tests: a clock that follows tokio's
//! (paused) clock, a provider wrapper that records how many syncs run at
//! once per tenant and per IdP org key, and builders for connections,
//! directories and host records.
#![allow(dead_code)]

#[cfg(feature = "postgres")]
#[path = "../../examples/support/fleet.rs"]
pub mod fleet;
#[path = "../../examples/support/orgs.rs"]
pub mod orgs;
#[cfg(feature = "postgres")]
pub mod pg;
#[path = "../../examples/support/providers.rs"]
pub mod providers;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use directory_core::{
    AppAssignment, CheckReport, CollectOptions, DirectoryGroup, DirectoryProvider, DirectoryUser,
    Membership, Pages, PreviousRound, ProviderRound,
};
use recipient_reconcile::{HostData, HostLocation, Location, Policy, Recipient, Source};
use sync_runner::{
    Clock, Connection, MemoryFactory, MemoryHost, MemorySecrets, MemoryStore, ProviderFactory,
    ProviderSettings, Runner, RunnerConfig, Schedule, SecretResolver,
};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 2, 0, 0).unwrap()
}

/// `t0()` plus the time elapsed on tokio's clock (paused in these tests).
#[derive(Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> Arc<Self> {
        Arc::new(TokioClock {
            start: tokio::time::Instant::now(),
        })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        t0() + chrono::TimeDelta::from_std(self.start.elapsed()).unwrap()
    }
}

/// Syncs running now and the most ever seen at once, per key.
#[derive(Debug, Default)]
pub struct Gauge {
    inner: Mutex<(HashMap<String, u32>, HashMap<String, u32>)>,
}

impl Gauge {
    fn enter(&self, key: &str) {
        let mut g = self.inner.lock().unwrap();
        let now = g.0.entry(key.to_string()).or_default();
        *now += 1;
        let n = *now;
        let max = g.1.entry(key.to_string()).or_default();
        *max = (*max).max(n);
    }

    fn exit(&self, key: &str) {
        *self.inner.lock().unwrap().0.get_mut(key).unwrap() -= 1;
    }

    pub fn max(&self) -> u32 {
        self.inner
            .lock()
            .unwrap()
            .1
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    pub fn seen(&self) -> usize {
        self.inner.lock().unwrap().1.len()
    }
}

/// A real provider whose sync rounds take `hold` (on tokio's clock) and are
/// counted in the gauges while they run.
pub struct Tracked {
    inner: Arc<dyn DirectoryProvider>,
    keys: Vec<(Arc<Gauge>, String)>,
    hold: Duration,
}

impl fmt::Display for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl DirectoryProvider for Tracked {
    fn users(&self) -> Pages<DirectoryUser> {
        self.inner.users()
    }
    fn groups(&self) -> Pages<DirectoryGroup> {
        self.inner.groups()
    }
    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        self.inner.group_members(group_id)
    }
    fn app_assignments(&self) -> Pages<AppAssignment> {
        self.inner.app_assignments()
    }
    async fn check(&self) -> CheckReport {
        self.inner.check().await
    }
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> directory_core::Result<ProviderRound> {
        for (g, k) in &self.keys {
            g.enter(k);
        }
        tokio::time::sleep(self.hold).await;
        let round = self.inner.sync_round(previous, options).await;
        for (g, k) in &self.keys {
            g.exit(k);
        }
        round
    }
}

/// Wraps another factory's providers in [`Tracked`].
pub struct TrackingFactory {
    pub inner: Arc<dyn ProviderFactory>,
    pub per_tenant: Arc<Gauge>,
    pub per_org: Arc<Gauge>,
    pub hold: Duration,
}

#[async_trait]
impl ProviderFactory for TrackingFactory {
    async fn build(
        &self,
        connection: &Connection,
        secrets: &dyn SecretResolver,
    ) -> Result<Arc<dyn DirectoryProvider>, directory_core::Error> {
        let inner = self.inner.build(connection, secrets).await?;
        Ok(Arc::new(Tracked {
            inner,
            keys: vec![
                (self.per_tenant.clone(), connection.tenant_id.clone()),
                (self.per_org.clone(), connection.idp_org_key.clone()),
            ],
            hold: self.hold,
        }))
    }
}

pub fn users(n: usize) -> Vec<DirectoryUser> {
    (1..=n)
        .map(|i| {
            DirectoryUser::new(format!("u{i}"), format!("user{i}"))
                .with_email(format!("user{i}@acme.test"), true)
        })
        .collect()
}

pub fn directory(name: &str, n: usize) -> directory_core::InMemoryDirectory {
    directory_core::InMemoryDirectory::builder(name)
        .data(directory_core::DirectoryData {
            users: users(n),
            ..Default::default()
        })
        .build()
}

/// One location, `ber`, with these records.
pub fn host_data(records: Vec<Recipient>) -> HostData {
    HostData {
        locations: vec![HostLocation {
            location: Location::new("ber", "Berlin"),
            records,
        }],
        users: vec![],
    }
}

/// Directory-owned records for users 1..=n, in sync with [`users`].
pub fn synced_records(n: usize) -> Vec<Recipient> {
    (1..=n)
        .map(|i| {
            Recipient::new(
                format!("r{i}"),
                "ber",
                Source::Directory,
                format!("user{i}@acme.test"),
            )
            .with_external_id(format!("u{i}"))
        })
        .collect()
}

pub const HOUR: Duration = Duration::from_secs(3600);
pub const MINUTE: Duration = Duration::from_secs(60);

pub fn connection(id: &str, org_key: &str, directory: &str) -> Connection {
    Connection {
        id: id.to_string(),
        tenant_id: format!("tenant-{id}"),
        provider: ProviderSettings {
            kind: "memory".to_string(),
            settings: serde_json::json!({ "directory": directory }),
            secrets: BTreeMap::new(),
        },
        idp_org_key: org_key.to_string(),
        policy: Policy::default(),
        schedule: Schedule::every(HOUR).jitter(10 * MINUTE),
        enabled: true,
    }
}

pub fn config() -> RunnerConfig {
    RunnerConfig {
        concurrency: 4,
        lease: 5 * MINUTE,
        heartbeat_every: MINUTE,
        poll_every: 30 * Duration::from_secs(1),
        backoff_base: 2 * MINUTE,
        backoff_max: HOUR,
        ..RunnerConfig::default()
    }
}

/// A runner over memory parts, with the tracking factory and tokio's clock.
pub struct Fixture {
    pub store: Arc<MemoryStore>,
    pub host: MemoryHost,
    pub factory: MemoryFactory,
    pub secrets: MemorySecrets,
    pub per_tenant: Arc<Gauge>,
    pub per_org: Arc<Gauge>,
    pub runner: Runner,
}

pub fn fixture(hold: Duration) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let host = MemoryHost::new();
    let factory = MemoryFactory::new();
    let secrets = MemorySecrets::default();
    let per_tenant = Arc::new(Gauge::default());
    let per_org = Arc::new(Gauge::default());
    let tracking = TrackingFactory {
        inner: Arc::new(factory.clone()),
        per_tenant: per_tenant.clone(),
        per_org: per_org.clone(),
        hold,
    };
    let runner = Runner::new(
        store.clone(),
        Arc::new(host.clone()),
        Arc::new(tracking),
        Arc::new(secrets.clone()),
    )
    .with_clock(TokioClock::new())
    .with_config(config());
    Fixture {
        store,
        host,
        factory,
        secrets,
        per_tenant,
        per_org,
        runner,
    }
}

/// Runs a worker until it finds nothing due.
pub async fn drain(worker: &sync_runner::Worker) -> usize {
    let mut total = 0;
    loop {
        let n = worker.run_once().await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}
