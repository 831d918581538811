//! `MemoryStore`: the store in memory, with the semantics a database store
//! has (leases that lapse, fencing tokens, one lease per IdP org key).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::store::{
    Claim, Completion, ConnectionStatus, HeldChange, HeldPlan, Lease, RunRecord, RunnerStore,
    SavedSync,
};

/// One connection and what the store keeps for it.
#[derive(Debug)]
struct Row {
    connection: Connection,
    due_at: DateTime<Utc>,
    lease: Option<Lease>,
    /// The last fencing token handed out.
    token: u64,
    consecutive_failures: u32,
    saved: Option<SavedSync>,
    last_applied_hash: Option<String>,
    held: Option<HeldPlan>,
    runs: Vec<RunRecord>,
}

impl Row {
    fn leased_at(&self, now: DateTime<Utc>) -> Option<&Lease> {
        self.lease.as_ref().filter(|l| l.expires_at > now)
    }

    /// Whether `lease` is the live one: same claim (token) and not lapsed.
    fn holds(&self, lease: &Lease, now: DateTime<Utc>) -> bool {
        self.leased_at(now)
            .is_some_and(|l| l.token == lease.token && l.worker_id == lease.worker_id)
    }

    fn take_lease(&mut self, worker_id: &str, now: DateTime<Utc>, lease_for: TimeDelta) -> Lease {
        self.token = self.token.saturating_add(1);
        let lease = Lease {
            connection_id: self.connection.id.clone(),
            worker_id: worker_id.to_string(),
            token: self.token,
            expires_at: now + lease_for,
        };
        self.lease = Some(lease.clone());
        lease
    }

    fn claim(&mut self, worker_id: &str, now: DateTime<Utc>, lease_for: TimeDelta) -> Claim {
        Claim {
            lease: self.take_lease(worker_id, now, lease_for),
            connection: self.connection.clone(),
            consecutive_failures: self.consecutive_failures,
        }
    }

    fn apply(&mut self, completion: Completion) {
        self.lease = None;
        if let Some(saved) = completion.saved {
            self.saved = Some(saved);
        }
        if let Some(hash) = completion.applied_hash {
            self.last_applied_hash = Some(hash);
        }
        match completion.held {
            HeldChange::Keep => {}
            HeldChange::Hold(plan) => self.held = Some(*plan),
            HeldChange::Clear => self.held = None,
        }
        if let Some(due) = completion.next_due {
            self.due_at = due;
        }
        if let Some(n) = completion.consecutive_failures {
            self.consecutive_failures = n;
        }
        self.runs.push(completion.run);
    }
}

/// The runner's store in memory: for tests, the demo and a single-process
/// host. Everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    rows: Mutex<BTreeMap<String, Row>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("rows", &*self.lock())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Row>> {
        // Every method leaves the rows whole before it can panic.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read<T>(&self, id: &str, f: impl FnOnce(&Row) -> T) -> Result<Option<T>> {
        Ok(self.lock().get(id).map(f))
    }
}

/// The org keys leased at `now`, except `except`'s own.
fn leased_org_keys<'a>(
    rows: &'a BTreeMap<String, Row>,
    now: DateTime<Utc>,
    except: Option<&str>,
) -> Vec<&'a str> {
    rows.values()
        .filter(|r| r.leased_at(now).is_some() && Some(r.connection.id.as_str()) != except)
        .map(|r| r.connection.idp_org_key.as_str())
        .collect()
}

/// Ids of the connections to claim: due, free, earliest first, one per org key.
fn pick_due(rows: &BTreeMap<String, Row>, now: DateTime<Utc>, limit: usize) -> Vec<String> {
    let mut busy: Vec<&str> = leased_org_keys(rows, now, None);
    let mut due: Vec<&Row> = rows
        .values()
        .filter(|r| r.connection.enabled && r.due_at <= now && r.leased_at(now).is_none())
        .collect();
    due.sort_by(|a, b| (a.due_at, &a.connection.id).cmp(&(b.due_at, &b.connection.id)));
    let mut picked = Vec::new();
    for row in due {
        if picked.len() >= limit {
            break;
        }
        let key = row.connection.idp_org_key.as_str();
        if !busy.contains(&key) {
            busy.push(key);
            picked.push(row.connection.id.clone());
        }
    }
    picked
}

#[async_trait]
impl RunnerStore for MemoryStore {
    async fn put_connection(&self, connection: Connection, now: DateTime<Utc>) -> Result<()> {
        connection.validate()?;
        let mut rows = self.lock();
        match rows.get_mut(&connection.id) {
            Some(row) => row.connection = connection,
            None => {
                let row = Row {
                    connection: connection.clone(),
                    due_at: now,
                    lease: None,
                    token: 0,
                    consecutive_failures: 0,
                    saved: None,
                    last_applied_hash: None,
                    held: None,
                    runs: Vec::new(),
                };
                rows.insert(connection.id, row);
            }
        }
        Ok(())
    }

    async fn connection(&self, id: &str) -> Result<Option<Connection>> {
        self.read(id, |r| r.connection.clone())
    }

    async fn status(&self, id: &str, now: DateTime<Utc>) -> Result<Option<ConnectionStatus>> {
        self.read(id, |r| ConnectionStatus {
            due_at: r.due_at,
            lease: r.leased_at(now).cloned(),
            consecutive_failures: r.consecutive_failures,
            last_applied_hash: r.last_applied_hash.clone(),
            held: r.held.is_some(),
        })
    }

    async fn connection_ids(&self) -> Result<Vec<String>> {
        Ok(self.lock().keys().cloned().collect())
    }

    async fn remove_connection(&self, id: &str) -> Result<bool> {
        Ok(self.lock().remove(id).is_some())
    }

    async fn claim_due(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
        limit: usize,
    ) -> Result<Vec<Claim>> {
        let mut rows = self.lock();
        let mut claims = Vec::new();
        for id in pick_due(&rows, now, limit) {
            if let Some(row) = rows.get_mut(&id) {
                claims.push(row.claim(worker_id, now, lease_for));
            }
        }
        Ok(claims)
    }

    async fn claim(
        &self,
        connection_id: &str,
        worker_id: &str,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
    ) -> Result<Claim> {
        let mut rows = self.lock();
        let busy = leased_org_keys(&rows, now, Some(connection_id))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        let row = rows
            .get_mut(connection_id)
            .ok_or_else(|| Error::UnknownConnection(connection_id.to_string()))?;
        if row.leased_at(now).is_some() || busy.contains(&row.connection.idp_org_key) {
            return Err(Error::Busy(connection_id.to_string()));
        }
        Ok(row.claim(worker_id, now, lease_for))
    }

    async fn heartbeat(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
    ) -> Result<Lease> {
        let mut rows = self.lock();
        let lost = || Error::LeaseLost(lease.connection_id.clone());
        let row = rows.get_mut(&lease.connection_id).ok_or_else(lost)?;
        if !row.holds(lease, now) {
            return Err(lost());
        }
        let renewed = Lease {
            expires_at: now + lease_for,
            ..lease.clone()
        };
        row.lease = Some(renewed.clone());
        Ok(renewed)
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let mut rows = self.lock();
        if let Some(row) = rows.get_mut(&lease.connection_id) {
            if row.lease.as_ref().is_some_and(|l| l.token == lease.token) {
                row.lease = None;
            }
        }
        Ok(())
    }

    async fn complete(&self, lease: &Lease, completion: Completion) -> Result<()> {
        let mut rows = self.lock();
        let now = completion.run.finished_at;
        let lost = || Error::LeaseLost(lease.connection_id.clone());
        let row = rows.get_mut(&lease.connection_id).ok_or_else(lost)?;
        if !row.holds(lease, now) {
            return Err(lost());
        }
        row.apply(completion);
        Ok(())
    }

    async fn saved_sync(&self, connection_id: &str) -> Result<Option<SavedSync>> {
        Ok(self.read(connection_id, |r| r.saved.clone())?.flatten())
    }

    async fn held_plan(&self, connection_id: &str) -> Result<Option<HeldPlan>> {
        Ok(self.read(connection_id, |r| r.held.clone())?.flatten())
    }

    async fn held_plans(&self) -> Result<Vec<HeldPlan>> {
        Ok(self
            .lock()
            .values()
            .filter_map(|r| r.held.clone())
            .collect())
    }

    async fn runs(&self, connection_id: &str) -> Result<Vec<RunRecord>> {
        Ok(self
            .read(connection_id, |r| r.runs.clone())?
            .unwrap_or_default())
    }
}
