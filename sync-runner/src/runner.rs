//! `Runner`: the parts a host supplies, shared by its workers and approvals.

use std::sync::Arc;
use std::time::Duration;

use directory_core::SyncOptions;

use crate::clock::{Clock, SystemClock};
use crate::factory::ProviderFactory;
use crate::host::Host;
use crate::metrics::Metrics;
use crate::secrets::SecretResolver;
use crate::store::RunnerStore;
use crate::worker::Worker;

/// How workers run.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Connections one worker syncs at once.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often a running sync renews its lease (well under `lease`).
    pub heartbeat_every: Duration,
    /// How long an idle worker waits before looking for due connections again.
    pub poll_every: Duration,
    /// The wait after the first failure in a row; doubled for each further one.
    pub backoff_base: Duration,
    /// The longest wait after failures.
    pub backoff_max: Duration,
    /// Full or incremental rounds.
    pub sync: SyncOptions,
}

impl Default for RunnerConfig {
    /// 4 at once, 5-minute leases renewed every minute, polling every 30
    /// seconds, backoff from 1 minute up to 6 hours.
    fn default() -> Self {
        RunnerConfig {
            concurrency: 4,
            lease: Duration::from_secs(300),
            heartbeat_every: Duration::from_secs(60),
            poll_every: Duration::from_secs(30),
            backoff_base: Duration::from_secs(60),
            backoff_max: Duration::from_secs(6 * 3600),
            sync: SyncOptions::default(),
        }
    }
}

/// The store, the host, the provider factory, the secret resolver, the
/// clock and the counters: everything a worker or an approval uses. Cheap to
/// clone.
#[derive(Clone)]
pub struct Runner {
    pub(crate) store: Arc<dyn RunnerStore>,
    pub(crate) host: Arc<dyn Host>,
    pub(crate) factory: Arc<dyn ProviderFactory>,
    pub(crate) secrets: Arc<dyn SecretResolver>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: RunnerConfig,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("clock", &self.clock)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over `store`, applying to `host`, building providers with
    /// `factory` and resolving secrets with `secrets`; system clock, default config.
    pub fn new(
        store: Arc<dyn RunnerStore>,
        host: Arc<dyn Host>,
        factory: Arc<dyn ProviderFactory>,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        Runner {
            store,
            host,
            factory,
            secrets,
            clock: Arc::new(SystemClock),
            metrics: Arc::new(Metrics::default()),
            config: RunnerConfig::default(),
        }
    }

    /// Uses `clock` for due times, leases and backoff.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `config`.
    pub fn with_config(mut self, config: RunnerConfig) -> Self {
        self.config = config;
        self
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn RunnerStore> {
        &self.store
    }

    /// A worker with this id (unique among the workers sharing the store).
    pub fn worker(&self, worker_id: impl Into<String>) -> Worker {
        Worker::new(self.clone(), worker_id.into())
    }
}
