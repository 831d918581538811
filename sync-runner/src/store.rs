//! The store: everything the runner keeps, behind one async trait, so an
//! in-memory store and a database store are interchangeable.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use directory_core::{Error as DirectoryError, Snapshot, SyncState};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use recipient_reconcile::Plan;
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::error::Result;

/// A worker's claim on one connection until `expires_at`. `token` grows
/// with every claim of the connection, so a worker whose lease lapsed and
/// was taken over can write nothing (a fencing token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The connection.
    pub connection_id: String,
    /// The worker that holds it.
    pub worker_id: String,
    /// The claim's fencing token.
    pub token: u64,
    /// When the lease lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A claimed connection.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The connection as stored.
    pub connection: Connection,
    /// The lease on it.
    pub lease: Lease,
    /// Failed runs in a row before this one.
    pub consecutive_failures: u32,
}

/// What a connection keeps between runs: the last complete snapshot and the
/// provider's sync state, as bytes and text the store need not understand.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSync {
    /// The snapshot as gzip-compressed JSON.
    pub snapshot: Vec<u8>,
    /// The [`SyncState`] as JSON.
    pub state: String,
}

impl SavedSync {
    /// Compresses `snapshot` and writes `state`.
    pub fn new(snapshot: &Snapshot, state: &SyncState) -> Result<SavedSync, DirectoryError> {
        let cannot = |e: std::io::Error| {
            DirectoryError::config("snapshot", format!("cannot be compressed: {e}"))
        };
        // Buffered: serde_json writes a token at a time, and each write
        // straight into the encoder zeroes its 32 KiB output buffer.
        let mut gz = std::io::BufWriter::with_capacity(
            64 * 1024,
            GzEncoder::new(Vec::new(), Compression::default()),
        );
        serde_json::to_writer(&mut gz, snapshot)
            .map_err(|e| DirectoryError::config("snapshot", format!("cannot be written: {e}")))?;
        let gz = gz.into_inner().map_err(|e| cannot(e.into_error()))?;
        Ok(SavedSync {
            snapshot: gz.finish().map_err(cannot)?,
            state: state.to_json()?,
        })
    }

    /// The snapshot and state back; an error says which cannot be read.
    pub fn decode(&self) -> Result<(Snapshot, SyncState), DirectoryError> {
        let reader = std::io::BufReader::new(GzDecoder::new(self.snapshot.as_slice()));
        let snapshot = serde_json::from_reader(reader).map_err(|e| {
            DirectoryError::config(
                "snapshot",
                format!("cannot be read ({e}): drop it to run a full round"),
            )
        })?;
        Ok((snapshot, SyncState::from_json(&self.state)?))
    }
}

impl std::fmt::Debug for SavedSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedSync")
            .field("snapshot_bytes", &self.snapshot.len())
            .field("state_bytes", &self.state.len())
            .finish()
    }
}

/// A plan stopped by a safety limit, waiting for an admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldPlan {
    /// The connection.
    pub connection_id: String,
    /// The plan, made with the safety checks overridden so it can be read.
    pub plan: Plan,
    /// Which limits it broke, with the numbers.
    pub safety: String,
    /// When it was held.
    pub held_at: DateTime<Utc>,
}

/// Whether a run read the whole directory or only changes, or applied an
/// approved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunKind {
    /// A full round, and why.
    Full {
        /// Why the round was full.
        reason: String,
    },
    /// An incremental round.
    Incremental,
    /// An admin's approval of a held plan.
    Approval,
    /// The run failed before a round completed (building the provider,
    /// `check()`, or the round itself).
    NotStarted,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunOutcome {
    /// The plan was applied (or was empty).
    Applied {
        /// The plan's hash.
        plan_hash: String,
    },
    /// Nothing to do.
    NoChanges,
    /// A safety limit held the plan for review.
    Held {
        /// The held plan's hash.
        plan_hash: String,
    },
    /// An approval found the records or the directory changed since review.
    Stale {
        /// The hash that was reviewed.
        reviewed: String,
        /// The hash of the plan now held instead.
        current: String,
    },
    /// The run failed.
    Failed(RunError),
}

/// Why a run failed, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// The stage: `"secrets"`, `"provider"`, `"check"`, `"sync"`, `"host"`,
    /// `"policy"`, `"store"`.
    pub stage: String,
    /// The error kind, e.g. directory-core's `ErrorKind::as_str`.
    pub kind: String,
    /// The message (every directory-core message names the remedy).
    pub message: String,
    /// For a failed `check()`: each failed probe and its fix; for sealed
    /// secrets that do not open: each secret and its fix.
    pub fixes: Vec<String>,
}

/// Operations applied or planned, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCounts {
    /// Creates.
    pub creates: u64,
    /// Updates.
    pub updates: u64,
    /// Reactivations.
    pub reactivations: u64,
    /// Deactivations.
    pub deactivations: u64,
}

/// One run in a connection's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The connection.
    pub connection_id: String,
    /// The worker that ran it.
    pub worker_id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Full, incremental or an approval.
    pub kind: RunKind,
    /// Requests made to the IdP, where the provider counts them.
    pub requests: Option<u64>,
    /// Operations in the plan.
    pub counts: OperationCounts,
    /// How it ended.
    pub outcome: RunOutcome,
}

/// Everything a finished run writes, at once (one transaction in a
/// database): the run, the new sync state, the held plan, the next due time
/// and the release of the lease.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The run.
    pub run: RunRecord,
    /// The new snapshot and state; `None` keeps the previous ones.
    pub saved: Option<SavedSync>,
    /// The hash of the plan applied, if one was.
    pub applied_hash: Option<String>,
    /// What to do with the held plan.
    pub held: HeldChange,
    /// When the connection is due next; `None` keeps the current due time.
    pub next_due: Option<DateTime<Utc>>,
    /// Failed runs in a row after this one; `None` keeps the count.
    pub consecutive_failures: Option<u32>,
}

/// What a [`Completion`] does to the held plan.
#[derive(Debug, Clone)]
pub enum HeldChange {
    /// Leave it as it is.
    Keep,
    /// Hold this plan (replacing any other).
    Hold(Box<HeldPlan>),
    /// Clear it.
    Clear,
}

/// A connection's state as the store keeps it, for an admin's view.
#[derive(Debug, Clone)]
pub struct ConnectionStatus {
    /// When it is due next.
    pub due_at: DateTime<Utc>,
    /// The lease on it, if one has not lapsed.
    pub lease: Option<Lease>,
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// The hash of the last plan applied.
    pub last_applied_hash: Option<String>,
    /// Whether a plan is held for review.
    pub held: bool,
}

/// Everything the runner keeps. Every method is one atomic step (one
/// transaction in a database store). Two guarantees hold for any number of
/// workers sharing one store: a connection is leased to at most one worker
/// at a time, and so is each IdP org key; a lease that lapsed can be claimed
/// by another worker, after which the old holder can write nothing.
#[async_trait]
pub trait RunnerStore: Send + Sync + 'static {
    /// Adds a connection (due at `now`) or replaces its settings (keeping its state).
    async fn put_connection(&self, connection: Connection, now: DateTime<Utc>) -> Result<()>;

    /// The connection with this id.
    async fn connection(&self, id: &str) -> Result<Option<Connection>>;

    /// Its state.
    async fn status(&self, id: &str, now: DateTime<Utc>) -> Result<Option<ConnectionStatus>>;

    /// Every connection's id, sorted: an admin's list, each read with
    /// [`RunnerStore::connection`], [`RunnerStore::status`] and
    /// [`RunnerStore::runs`].
    async fn connection_ids(&self) -> Result<Vec<String>>;

    /// Removes a connection with its saved sync, held plan and run history
    /// (the customer disconnected); `false` if there was none. A worker
    /// still running it finds its lease lost at the end and writes nothing.
    async fn remove_connection(&self, id: &str) -> Result<bool>;

    /// Claims up to `limit` enabled connections due at `now`, none leased
    /// and none on an IdP org key leased by anyone, at most one per org key,
    /// earliest due first.
    async fn claim_due(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
        limit: usize,
    ) -> Result<Vec<Claim>>;

    /// Claims one connection whether due or not (an approval does); `Busy`
    /// when it or its org key is leased.
    async fn claim(
        &self,
        connection_id: &str,
        worker_id: &str,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
    ) -> Result<Claim>;

    /// Extends a lease to `now + lease_for`; `LeaseLost` if it lapsed and
    /// was taken, or was released.
    async fn heartbeat(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
    ) -> Result<Lease>;

    /// Gives a lease back without a run (a shutdown before starting).
    async fn release(&self, lease: &Lease) -> Result<()>;

    /// Writes a finished run and releases the lease, all or nothing;
    /// `LeaseLost` (and nothing written) if the lease is no longer held.
    /// The lease is judged at the run's `finished_at` (the runner's clock,
    /// as every other step is judged at the `now` it is given).
    async fn complete(&self, lease: &Lease, completion: Completion) -> Result<()>;

    /// The last snapshot and sync state.
    async fn saved_sync(&self, connection_id: &str) -> Result<Option<SavedSync>>;

    /// The plan held for review.
    async fn held_plan(&self, connection_id: &str) -> Result<Option<HeldPlan>>;

    /// Every held plan, by connection id.
    async fn held_plans(&self) -> Result<Vec<HeldPlan>>;

    /// The run history, oldest first.
    async fn runs(&self, connection_id: &str) -> Result<Vec<RunRecord>>;
}
