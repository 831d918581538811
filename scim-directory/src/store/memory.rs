//! The in-memory store: for tests, examples and hosts that keep nothing.
//!
//! Lookups by id, unique key and member use maps kept with every write;
//! other [`IndexFilter`]s are evaluated over the tenant's resources.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;

use super::query::{group_display_name, GroupRef, IndexFilter, IndexOp, IndexedAttr};
use super::{ResourcePage, ResourceQuery, Store, StoredResource, TenantChange, Write};
use crate::errors::StoreError;
use crate::events::{Change, Event, EventCursor};
use crate::schema::ResourceType;
use crate::tenant::TenantRecord;

type Key = (String, ResourceType, String);
/// (tenant, kind, unique key) -> id.
type NameKey = (String, ResourceType, String);

#[derive(Default)]
struct Inner {
    tenants: BTreeMap<String, TenantRecord>,
    resources: BTreeMap<Key, StoredResource>,
    names: HashMap<NameKey, String>,
    /// Creation order: the position of each resource...
    positions: HashMap<Key, u64>,
    /// ...and the resources of a kind by position.
    order: BTreeMap<(String, ResourceType, u64), String>,
    last_position: u64,
    /// (tenant, member id, group id) for every group member.
    members: BTreeSet<(String, String, String)>,
    events: Vec<Event>,
    /// The seq of the last event appended (events of a deleted tenant are
    /// gone, so it is not `events.len()`).
    last_seq: u64,
}

/// A [`Store`] in memory. Everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

fn key(tenant: &str, rt: ResourceType, id: &str) -> Key {
    (tenant.to_string(), rt, id.to_string())
}

impl Inner {
    fn check_unique(&self, tenant: &str, r: &StoredResource) -> Result<(), StoreError> {
        let Some(k) = r.unique_key() else {
            return Ok(());
        };
        match self.names.get(&(tenant.to_string(), r.resource_type, k)) {
            Some(owner) if *owner != r.id => Err(StoreError::Conflict(
                super::unique_attribute(r.resource_type).into(),
            )),
            _ => Ok(()),
        }
    }

    fn remove(&mut self, tenant: &str, rt: ResourceType, id: &str) {
        let k = key(tenant, rt, id);
        if let Some(old) = self.resources.remove(&k) {
            if let Some(name) = old.unique_key() {
                self.names.remove(&(tenant.to_string(), rt, name));
            }
            for m in super::member_ids(&old) {
                self.members
                    .remove(&(tenant.to_string(), m, id.to_string()));
            }
        }
        if let Some(p) = self.positions.remove(&k) {
            self.order.remove(&(tenant.to_string(), rt, p));
        }
    }

    fn put(&mut self, tenant: &str, r: StoredResource) {
        let k = key(tenant, r.resource_type, &r.id);
        let kept = self.positions.get(&k).copied();
        self.remove(tenant, r.resource_type, &r.id);
        let position = kept.unwrap_or_else(|| {
            self.last_position += 1;
            self.last_position
        });
        self.positions.insert(k.clone(), position);
        self.order.insert(
            (tenant.to_string(), r.resource_type, position),
            r.id.clone(),
        );
        if let Some(name) = r.unique_key() {
            self.names
                .insert((tenant.to_string(), r.resource_type, name), r.id.clone());
        }
        for m in super::member_ids(&r) {
            self.members.insert((tenant.to_string(), m, r.id.clone()));
        }
        self.resources.insert(k, r);
    }

    /// The group ids listing `member`, ordered by id.
    fn groups_of(&self, tenant: &str, member: &str) -> Vec<&String> {
        let start = (tenant.to_string(), member.to_string(), String::new());
        self.members
            .range(start..)
            .take_while(|(t, m, _)| t == tenant && m == member)
            .map(|(_, _, g)| g)
            .collect()
    }

    /// A superset of what `f` selects, from the maps alone; `None` when it
    /// takes a scan.
    fn candidates(&self, tenant: &str, rt: ResourceType, f: &IndexFilter) -> Option<Vec<String>> {
        match f {
            IndexFilter::Compare(IndexedAttr::Id, IndexOp::Eq, id) => Some(vec![id.clone()]),
            IndexFilter::Compare(IndexedAttr::Key, IndexOp::Eq, name) => Some(
                self.names
                    .get(&(tenant.to_string(), rt, name.clone()))
                    .cloned()
                    .into_iter()
                    .collect(),
            ),
            IndexFilter::HasMember(m) if rt == ResourceType::Group => {
                Some(self.groups_of(tenant, m).into_iter().cloned().collect())
            }
            IndexFilter::And(a, b) => self
                .candidates(tenant, rt, a)
                .or_else(|| self.candidates(tenant, rt, b)),
            IndexFilter::Or(a, b) => {
                let mut both = self.candidates(tenant, rt, a)?;
                both.extend(self.candidates(tenant, rt, b)?);
                Some(both)
            }
            _ => None,
        }
    }

    fn query(&self, tenant: &str, rt: ResourceType, q: &ResourceQuery<'_>) -> ResourcePage {
        let selects = |r: &StoredResource| q.filter.is_none_or(|f| f.matches(r));
        let found = q.filter.and_then(|f| self.candidates(tenant, rt, f));
        let selected: Vec<&StoredResource> = match found {
            Some(ids) => {
                let mut by_position: BTreeMap<u64, &StoredResource> = BTreeMap::new();
                for id in ids {
                    let k = key(tenant, rt, &id);
                    if let (Some(p), Some(r)) = (self.positions.get(&k), self.resources.get(&k)) {
                        by_position.insert(*p, r);
                    }
                }
                by_position.into_values().filter(|r| selects(r)).collect()
            }
            None => {
                let of_kind = || {
                    self.order
                        .range((tenant.to_string(), rt, 0)..)
                        .take_while(|((t, kind, _), _)| t == tenant && *kind == rt)
                };
                if q.filter.is_none() {
                    // Count the positions; read only the page's resources.
                    return ResourcePage {
                        total: of_kind().count(),
                        resources: of_kind()
                            .skip(q.offset)
                            .take(q.limit)
                            .filter_map(|(_, id)| self.resources.get(&key(tenant, rt, id)))
                            .cloned()
                            .collect(),
                    };
                }
                of_kind()
                    .filter_map(|(_, id)| self.resources.get(&key(tenant, rt, id)))
                    .filter(|r| selects(r))
                    .collect()
            }
        };
        ResourcePage {
            total: selected.len(),
            resources: selected
                .into_iter()
                .skip(q.offset)
                .take(q.limit)
                .cloned()
                .collect(),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    /// Holds its lock for a moment and never waits on I/O.
    fn blocks(&self) -> bool {
        false
    }

    async fn insert_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.tenants.contains_key(&tenant.id) {
            return Err(StoreError::Conflict(format!("tenant id {}", tenant.id)));
        }
        inner.tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn modify_tenant(
        &self,
        id: &str,
        change: &TenantChange<'_>,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let mut inner = self.lock();
        let Some(stored) = inner.tenants.get_mut(id) else {
            return Ok(None);
        };
        let mut changed = stored.clone();
        change(&mut changed);
        *stored = TenantRecord {
            id: stored.id.clone(),
            created: stored.created,
            ..changed
        };
        Ok(Some(stored.clone()))
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let existed = inner.tenants.remove(id).is_some();
        let held: Vec<Key> = inner
            .resources
            .range(key(id, ResourceType::User, "")..)
            .map(|(k, _)| k.clone())
            .take_while(|(t, _, _)| t == id)
            .collect();
        // One by one, so every index `remove` keeps goes with its resource.
        for (t, rt, rid) in held {
            inner.remove(&t, rt, &rid);
        }
        inner.events.retain(|e| e.tenant != id);
        Ok(existed)
    }

    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        Ok(self.lock().tenants.get(id).cloned())
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn get(
        &self,
        tenant: &str,
        rt: ResourceType,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        Ok(self.lock().resources.get(&key(tenant, rt, id)).cloned())
    }

    async fn find_by_key(
        &self,
        tenant: &str,
        rt: ResourceType,
        k: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        let inner = self.lock();
        let id = inner.names.get(&(tenant.to_string(), rt, k.to_string()));
        Ok(id.and_then(|id| inner.resources.get(&key(tenant, rt, id)).cloned()))
    }

    async fn groups_with_member(
        &self,
        tenant: &str,
        member_id: &str,
    ) -> Result<Vec<StoredResource>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .groups_of(tenant, member_id)
            .into_iter()
            .filter_map(|g| inner.resources.get(&key(tenant, ResourceType::Group, g)))
            .cloned()
            .collect())
    }

    async fn group_refs(
        &self,
        tenant: &str,
        member_ids: &[String],
    ) -> Result<Vec<GroupRef>, StoreError> {
        let inner = self.lock();
        let ids: BTreeSet<&String> = member_ids.iter().collect();
        let mut out = Vec::new();
        for member in ids {
            for g in inner.groups_of(tenant, member) {
                let Some(group) = inner.resources.get(&key(tenant, ResourceType::Group, g)) else {
                    continue;
                };
                out.push(GroupRef {
                    member_id: member.clone(),
                    group_id: g.clone(),
                    display_name: group_display_name(group).unwrap_or_default().into(),
                });
            }
        }
        Ok(out)
    }

    async fn query(
        &self,
        tenant: &str,
        rt: ResourceType,
        q: &ResourceQuery<'_>,
    ) -> Result<ResourcePage, StoreError> {
        Ok(self.lock().query(tenant, rt, q))
    }

    async fn page(
        &self,
        tenant: &str,
        rt: ResourceType,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredResource>, StoreError> {
        let inner = self.lock();
        let start = key(tenant, rt, after.unwrap_or(""));
        Ok(inner
            .resources
            .range(start..)
            .filter(|((t, r, id), _)| t == tenant && *r == rt && Some(id.as_str()) != after)
            .take_while(|((t, r, _), _)| t == tenant && *r == rt)
            .take(limit)
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn commit(
        &self,
        tenant: &str,
        writes: Vec<Write>,
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.tenants.contains_key(tenant) {
            return Err(StoreError::NoTenant(tenant.to_string()));
        }
        for w in &writes {
            if let Write::Put(r) = w {
                let stored = inner.resources.get(&key(tenant, r.resource_type, &r.id));
                super::check_version(r, stored.map(|s| s.version))?;
                inner.check_unique(tenant, r)?;
            }
        }
        for w in writes {
            match w {
                Write::Put(r) => inner.put(tenant, r),
                Write::Delete(rt, id) => inner.remove(tenant, rt, &id),
            }
        }
        let at = Utc::now();
        for change in changes {
            inner.last_seq += 1;
            let seq = inner.last_seq;
            inner.events.push(Event {
                seq,
                tenant: tenant.to_string(),
                at,
                change,
            });
        }
        Ok(())
    }

    async fn events(
        &self,
        tenant: &str,
        after: EventCursor,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let inner = self.lock();
        // Events are in seq order, with gaps where a tenant was deleted.
        let start = inner.events.partition_point(|e| e.seq <= after.0);
        Ok(inner
            .events
            .iter()
            .skip(start)
            .filter(|e| e.tenant == tenant)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn last_event(&self, tenant: &str) -> Result<Option<Event>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .events
            .iter()
            .rev()
            .find(|e| e.tenant == tenant)
            .cloned())
    }
}
