//! Tenant records kept for a moment for the token check.
//!
//! Every SCIM request names a tenant and carries its token; without a cache
//! the check is a database query per request (two, when a server checks the
//! head before reading the body and [`ScimService::handle`] checks again).
//! A record read from the store is kept for
//! [`ServiceConfig::tenant_cache_ttl`](crate::ServiceConfig::tenant_cache_ttl),
//! and the token, its overlap window and the tenant's status are checked
//! against it at the time of each request. Administration through the same
//! service replaces or forgets the entry at once; a change made by another
//! process (another server, the `tenants` command) is seen within the TTL.
//! Writes never rely on it: a commit checks the tenant in its own
//! transaction.
//!
//! [`ScimService::handle`]: crate::ScimService::handle

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenant::TenantRecord;

/// The most tenants kept. Past it, expired entries go first, then all:
/// only tenants that exist are kept, so the bound is against a service with
/// more tenants than this, not against a client making up tenant ids.
const MAX_ENTRIES: usize = 100_000;

pub(crate) struct TenantCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, TenantRecord)>>,
}

impl TenantCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The record kept for `id`, if it is younger than the TTL.
    pub(crate) fn get(&self, id: &str) -> Option<TenantRecord> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (at, record) = entries.get(id)?;
        (at.elapsed() < self.ttl).then(|| record.clone())
    }

    /// Keeps `record`, read from the store just now.
    pub(crate) fn put(&self, record: &TenantRecord) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&record.id) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(record.id.clone(), (Instant::now(), record.clone()));
    }

    /// Drops what is kept for `id` (the tenant was deleted or changed).
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}
