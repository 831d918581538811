//! # sync-runner
//!
//! The layer every SaaS that embeds this library writes on top of it, built
//! once: a table of customer connections, a schedule, the previous snapshot
//! and sync state per connection, workers that run check → sync → reconcile
//! → apply, plans held for an admin's review when they break a safety limit,
//! a run history, and leases so that any number of workers can share one
//! store without two of them syncing one connection (or one IdP org) at once.
//!
//! ## Main types
//!
//! * [`Connection`]: a tenant's link to one directory: [`ProviderSettings`]
//!   as data, each secret a [`SecretRef`] (a name the host resolves, or
//!   sealed under the host's key), the sync
//!   [`Policy`](recipient_reconcile::Policy), a [`Schedule`] (an interval or
//!   a cron expression in a time zone, with per-connection jitter) and an
//!   IdP org key. It serializes to readable JSON with no plaintext secret.
//! * [`RunnerStore`]: everything the runner keeps, as one async trait;
//!   [`MemoryStore`] implements it in memory with a database's semantics,
//!   `PgStore` (feature `postgres`) in PostgreSQL for workers on many machines.
//! * The host's side, as traits: [`Host`] (read a tenant's records, apply a
//!   plan idempotently by its hash), [`ProviderFactory`] (build a provider
//!   from a connection's settings, its secrets through
//!   [`Connection::secret`]) and [`SecretResolver`] (a secret's name to the
//!   secret). [`EncryptedSecrets`] is a resolver that opens secrets sealed
//!   in the connection (AES-256-GCM under [`SealingKey`]s, rotated with
//!   [`EncryptedSecrets::rotate`]). [`MemoryHost`], [`MemoryFactory`] and
//!   [`MemorySecrets`] serve tests and the demo.
//! * [`Runner`] holds those parts; [`Worker`] claims and runs due
//!   connections ([`Worker::run`] until a shutdown signal, or
//!   [`Worker::run_once`]); [`Runner::approve`] applies a held plan if it is
//!   still the one reviewed. [`RunRecord`]s are the history; [`Metrics`] the
//!   counters.
//!
//! ## How a host embeds it
//!
//! ```
//! use std::sync::Arc;
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//! use directory_core::{DirectoryUser, InMemoryDirectory};
//! use recipient_reconcile::{HostData, HostLocation, Location, Policy};
//! use sync_runner::{
//!     Connection, MemoryFactory, MemoryHost, MemorySecrets, MemoryStore, ProviderSettings,
//!     Runner, RunnerStore, RunOutcome, Schedule,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let directory = InMemoryDirectory::builder("acme")
//!     .user(DirectoryUser::new("u1", "ada").with_email("ada@acme.test", true))
//!     .build();
//! let factory = MemoryFactory::new();
//! factory.register("acme", directory, None);
//! let host = MemoryHost::new();
//! host.set("acme-tenant", HostData {
//!     locations: vec![HostLocation { location: Location::new("ber", "Berlin"), records: vec![] }],
//!     users: vec![],
//! });
//! let store = Arc::new(MemoryStore::new());
//! let runner = Runner::new(store.clone(), Arc::new(host.clone()), Arc::new(factory), Arc::new(MemorySecrets::default()));
//!
//! store.put_connection(Connection {
//!     id: "acme".into(),
//!     tenant_id: "acme-tenant".into(),
//!     provider: ProviderSettings {
//!         kind: "memory".into(),
//!         settings: serde_json::json!({ "directory": "acme" }),
//!         secrets: BTreeMap::new(),
//!     },
//!     idp_org_key: "acme".into(),
//!     policy: Policy::default(),
//!     schedule: Schedule::cron("0 2 * * *", Some("Europe/Berlin"))?.jitter(Duration::from_secs(3_600)),
//!     enabled: true,
//! }, chrono::Utc::now()).await?;
//!
//! let worker = runner.worker("worker-1");
//! assert_eq!(worker.run_once().await?, 1);
//! let runs = store.runs("acme").await?;
//! assert!(matches!(runs[0].outcome, RunOutcome::Applied { .. }));
//! assert_eq!(host.get("acme-tenant").locations[0].records.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A host runs [`Worker::run`] on each of its machines with a `watch`
//! channel it flips on SIGTERM, lets admins list [`RunnerStore::held_plans`]
//! and [`RunnerStore::runs`], and calls [`Runner::approve`] with the hash
//! the admin reviewed.
//!
//! ## Design notes
//!
//! * **Why leases.** A worker can die at any moment (a deploy, an OOM kill,
//!   SIGKILL). A lease is a claim with an expiry that a running sync renews
//!   (a heartbeat): a dead worker stops renewing, its lease lapses and any
//!   other worker claims the connection. Every claim gets a growing fencing
//!   token and every write checks it, so a worker that lost its lease (a
//!   long pause, a partition) writes nothing. A worker whose heartbeat fails
//!   drops the run. The org key is leased with the connection: two
//!   connections to one Okta org never run at once, as they share its rate
//!   limit.
//! * **Why the store is a trait.** The coordination is the store's: each
//!   method is one atomic step (claim, heartbeat, complete), so the worker
//!   holds no shared state and runs the same over memory or a database. A
//!   finished run is written in one step with the lease's release (history,
//!   snapshot and state, held plan, next due time, failure count): a crash
//!   between any two of them cannot leave half a run behind.
//! * **PostgreSQL is the one coordinator** (feature `postgres`,
//!   `PgStore`): workers on any number of machines share the database and
//!   nothing else. One row per connection holds the lease (`worker_id`,
//!   `lease_token`, `lease_expires_at`); a claim is one transaction that
//!   selects due, unleased connections on free org keys `FOR UPDATE SKIP
//!   LOCKED`, takes a transaction-scoped advisory lock on each candidate's
//!   org key hash and checks the key again, so two claimers cannot both see
//!   a key free. Heartbeats and writes are `UPDATE … WHERE lease_token = $1
//!   AND lease_expires_at > $now`. Leases are judged by the runner's
//!   [`Clock`], as in [`MemoryStore`] (why: see `PgStore`). A
//!   [`SavedSync`] is a `bytea` and a text column; the [`Connection`] a
//!   `jsonb` document (its secrets names or ciphertext only). The
//!   conformance suite (`testing` feature) runs against both stores.
//! * **No plaintext secret is stored.** A connection names each secret
//!   (the host's vault resolves it at run time) or carries it sealed:
//!   AES-256-GCM under the host's key, a random nonce per sealing, the key's
//!   id kept beside the ciphertext, and the connection id and the secret's
//!   purpose as associated data, so a ciphertext copied to another
//!   connection or purpose does not open. Keys rotate: seal with the newest,
//!   open with any held, [`EncryptedSecrets::rotate`] each connection, then
//!   drop the old key. A secret that does not open fails the run at stage
//!   `"secrets"` with a fix per secret ("re-enter the secret"), like a
//!   failed `check()`, and the connection backs off.
//! * **Schedules spread themselves.** Each connection's offset within the
//!   jitter comes from a hash of its id: the same on every machine, and a
//!   thousand connections on `0 2 * * *` with an hour's jitter start over
//!   the hour, not in one second. A cron connection runs at the first of
//!   its slots (each time named, plus its offset) after its last run
//!   finished, in the schedule's time zone through daylight-saving changes.
//! * **Apply only what is safe; hold the rest.** A plan within the policy's
//!   safety limits is applied at once; one over them is planned again with
//!   the checks overridden and held, with the numbers, for review. Approval
//!   re-plans from the latest snapshot and the host's current records and
//!   applies only if the hash is the reviewed one; otherwise the new plan is
//!   held and the approval says the old one is stale. The host applies a
//!   hash once, so a retried apply changes nothing twice.
//! * **Incremental by default, full when needed.** The previous snapshot and
//!   [`SyncState`](directory_core::SyncState) go to
//!   [`DirectoryProviderExt::sync`](directory_core::DirectoryProviderExt::sync),
//!   which decides, for any provider, whether the round may be incremental.
//! * **Failures are history, not errors.** A failed run is recorded with its
//!   stage, error kind, message and, for a failed `check()`, every probe's
//!   fix; the connection backs off exponentially while the others proceed.
//! * **Time is injected** ([`Clock`]): due times, leases and backoff use it,
//!   so tests move time by hand.
//!
//! ## Feature flags
//!
//! * `postgres`: `PgStore`, the store in PostgreSQL (sqlx, rustls, tokio;
//!   migrations shipped in `migrations/postgres/` and applied on connect).
//!   Tables: `runner_connections` (connection, due time, lease, failures,
//!   last applied hash), `runner_saved_syncs`, `runner_held_plans`,
//!   `runner_runs`. The example `sync_fleet` runs worker processes on
//!   simulated orgs against it; `tests/processes.rs` SIGKILLs one of three
//!   mid-run and checks every tenant was synced exactly once.
//! * `testing`: [`testing::store_conformance`], the guarantees every
//!   [`RunnerStore`] must keep (including claimers racing), for
//!   `MemoryStore` and `PgStore`.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

mod approval;
mod clock;
mod connection;
mod error;
mod factory;
mod host;
mod memory_store;
mod metrics;
#[cfg(feature = "postgres")]
mod postgres;
mod run;
mod runner;
mod schedule;
mod sealed;
mod secrets;
mod store;
mod worker;

#[cfg(feature = "testing")]
pub mod testing;

pub use approval::Approval;
pub use clock::{Clock, ManualClock, SystemClock};
pub use connection::{Connection, ProviderSettings};
pub use error::{Error, Result};
pub use factory::{MemoryFactory, ProviderFactory};
pub use host::{ApplyOutcome, Host, HostError, MemoryHost};
pub use memory_store::MemoryStore;
pub use metrics::{Metrics, MetricsSnapshot};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use runner::{Runner, RunnerConfig};
pub use schedule::Schedule;
pub use sealed::{EncryptedSecrets, SealedSecret, SealingKey};
pub use secrets::{MemorySecrets, SecretError, SecretErrorKind, SecretRef, SecretResolver};
pub use store::{
    Claim, Completion, ConnectionStatus, HeldChange, HeldPlan, Lease, OperationCounts, RunError,
    RunKind, RunOutcome, RunRecord, RunnerStore, SavedSync,
};
pub use worker::Worker;

/// Environment for a worker process on glibc (the C library of most Linux
/// distributions), to set where the process is started: keeps its resident
/// memory near what it holds. A run's snapshot and plan are a few large
/// vectors and many small strings, freed when the run ends. glibc keeps
/// what a thread frees in that thread's arena (up to eight per core), and
/// after the first large block is freed it raises its threshold for
/// serving large blocks from `mmap` (returned to the system when freed) up
/// to 32 MiB, so later snapshots' vectors come from the arenas and stay
/// there. `MALLOC_ARENA_MAX=1` has the threads share one arena, so what
/// one run frees is reused by the next whichever thread it runs on, and a
/// fixed `MALLOC_MMAP_THRESHOLD_` of 128 KiB keeps large blocks in `mmap`.
/// In the fleet bench (README) the workers' peak resident memory above
/// idle fell from 77 MiB to 50-53 MiB with it (55-66 MiB with two
/// arenas), the workers' CPU within its run-to-run spread: a worker spends
/// its time waiting on the network and in gzip and JSON, not in `malloc`
/// (where one arena makes its two threads take turns). Other
/// allocators (jemalloc, mimalloc) and other C libraries ignore these
/// variables.
pub const WORKER_MALLOC_ENV: [(&str, &str); 2] = [
    ("MALLOC_ARENA_MAX", "1"),
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
];
