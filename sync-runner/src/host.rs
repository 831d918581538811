//! The host's side: its records per tenant, and applying a plan to them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use recipient_reconcile::{HostData, Plan};

/// The host could not read or apply records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host, tenant {tenant_id}: {message}")]
pub struct HostError {
    /// The tenant.
    pub tenant_id: String,
    /// What went wrong.
    pub message: String,
}

/// What applying a plan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyOutcome {
    /// The plan's operations were applied.
    Applied,
    /// A plan with this hash was applied before: nothing was changed again.
    AlreadyApplied,
}

/// What the runner needs from the host application.
///
/// `apply` must be idempotent by [`Plan::hash`]: keep the hashes applied
/// (in the same transaction as the records) and return
/// [`ApplyOutcome::AlreadyApplied`] for one seen before, so an apply retried
/// after a crash changes nothing twice.
#[async_trait]
pub trait Host: Send + Sync + 'static {
    /// The tenant's current records: locations with their recipients, and users.
    async fn records(&self, tenant_id: &str) -> Result<HostData, HostError>;

    /// Applies `plan` to the tenant's records, all or nothing, once per hash.
    async fn apply(&self, tenant_id: &str, plan: &Plan) -> Result<ApplyOutcome, HostError>;
}

#[derive(Debug, Default)]
struct Tenants {
    data: BTreeMap<String, HostData>,
    applied: BTreeMap<String, BTreeSet<String>>,
    applies: u64,
}

/// A host whose records live in memory, for tests and the demo: applies a
/// plan with [`recipient_reconcile::apply`], once per plan hash.
#[derive(Debug, Clone, Default)]
pub struct MemoryHost {
    tenants: Arc<Mutex<Tenants>>,
}

impl MemoryHost {
    /// A host with no tenants.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Tenants> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets a tenant's records.
    pub fn set(&self, tenant_id: &str, data: HostData) {
        self.lock().data.insert(tenant_id.to_string(), data);
    }

    /// Changes a tenant's records in place (as the host's own users would).
    pub fn update(&self, tenant_id: &str, f: impl FnOnce(&mut HostData)) {
        f(self.lock().data.entry(tenant_id.to_string()).or_default());
    }

    /// A tenant's records.
    pub fn get(&self, tenant_id: &str) -> HostData {
        self.lock().data.get(tenant_id).cloned().unwrap_or_default()
    }

    /// How many plans changed records, over all tenants.
    pub fn applies(&self) -> u64 {
        self.lock().applies
    }
}

#[async_trait]
impl Host for MemoryHost {
    async fn records(&self, tenant_id: &str) -> Result<HostData, HostError> {
        Ok(self.get(tenant_id))
    }

    async fn apply(&self, tenant_id: &str, plan: &Plan) -> Result<ApplyOutcome, HostError> {
        let mut guard = self.lock();
        let tenants = &mut *guard;
        let seen = tenants.applied.entry(tenant_id.to_string()).or_default();
        if seen.contains(&plan.hash) {
            return Ok(ApplyOutcome::AlreadyApplied);
        }
        let data = tenants.data.entry(tenant_id.to_string()).or_default();
        // All or nothing: a location that does not fit leaves every one as it was.
        let mut next = data.clone();
        recipient_reconcile::apply(&mut next, plan).map_err(|e| HostError {
            tenant_id: tenant_id.to_string(),
            message: e.to_string(),
        })?;
        *data = next;
        seen.insert(plan.hash.clone());
        tenants.applies = tenants.applies.saturating_add(1);
        Ok(ApplyOutcome::Applied)
    }
}
