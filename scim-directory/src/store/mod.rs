//! Storage: a small async trait with an in-memory, a SQLite (feature
//! `sqlite`, on by default) and a PostgreSQL (feature `postgres`)
//! implementation.
//!
//! The store is deliberately dumb: it keeps resource bodies, tenants and the
//! event log, and enforces one rule itself (a user's `userName` and a
//! group's `displayName` are unique per tenant, case-insensitively) so that
//! uniqueness holds even if two processes share a database. Everything SCIM-specific lives in the service.
//! [`Store::commit`] writes resources and appends their events atomically.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
// The SQL half of `query` (conditions, page statements) serves the SQL
// stores only; without either, the memory store uses the rest.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) mod query;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use query::{GroupRef, IndexFilter, IndexOp, IndexedAttr, ResourcePage, ResourceQuery};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::errors::StoreError;
use crate::events::{Change, Event, EventCursor};
use crate::schema::ResourceType;
use crate::tenant::TenantRecord;

/// A stored User or Group: the normalized SCIM body without `id`, `meta`
/// and `schemas`, plus the server-owned metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// User or Group.
    pub resource_type: ResourceType,
    /// The server-assigned id.
    pub id: String,
    /// The normalized body.
    pub body: Value,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub last_modified: DateTime<Utc>,
    /// Incremented on every change (the ETag `W/"n"`).
    pub version: u64,
}

impl StoredResource {
    /// The per-tenant unique key: a user's lower-cased `userName`, a
    /// group's lower-cased `displayName` (Entra matches groups by name).
    pub fn unique_key(&self) -> Option<String> {
        self.body
            .get(unique_attribute(self.resource_type))
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    }
}

/// The ids a group's body lists in `members` (users and groups), sorted and
/// without repeats; empty for a user.
pub(crate) fn member_ids(r: &StoredResource) -> Vec<String> {
    if r.resource_type != ResourceType::Group {
        return Vec::new();
    }
    let ids: std::collections::BTreeSet<String> = r
        .body
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
        .collect();
    ids.into_iter().collect()
}

/// The error for a [`Write::Put`] of `r` over a stored `version`, if any.
pub(crate) fn check_version(r: &StoredResource, stored: Option<u64>) -> Result<(), StoreError> {
    if stored.unwrap_or(0).checked_add(1) == Some(r.version) {
        Ok(())
    } else {
        Err(StoreError::Stale(format!(
            "{} {}",
            r.resource_type.name(),
            r.id
        )))
    }
}

/// The attribute unique per tenant for a resource type: `userName` or
/// `displayName`.
pub fn unique_attribute(rt: ResourceType) -> &'static str {
    match rt {
        ResourceType::User => "userName",
        ResourceType::Group => "displayName",
    }
}

/// The resource type a store's `kind` column names (`Group`, else `User`).
pub(crate) fn kind_named(kind: &str) -> ResourceType {
    match kind {
        "Group" => ResourceType::Group,
        _ => ResourceType::User,
    }
}

/// Which ids are users and which groups (ids that are neither left out),
/// as [`Store::group_and_kinds`] answers.
pub type MemberKinds = std::collections::BTreeMap<String, ResourceType>;

/// Which of `ids` are stored users and which groups (never `group_id`
/// itself: a group is not its own member; an id that is both counts as
/// the user): one [`Store::existing`] for users, one for what is left.
pub(crate) async fn kinds_of<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    ids: &[String],
    group_id: &str,
) -> Result<MemberKinds, StoreError> {
    let mut kinds = MemberKinds::new();
    if ids.is_empty() {
        return Ok(kinds);
    }
    for id in store.existing(tenant, ResourceType::User, ids).await? {
        kinds.insert(id, ResourceType::User);
    }
    let rest: Vec<String> = ids
        .iter()
        .filter(|id| !kinds.contains_key(*id) && id.as_str() != group_id)
        .cloned()
        .collect();
    if !rest.is_empty() {
        for id in store.existing(tenant, ResourceType::Group, &rest).await? {
            kinds.insert(id, ResourceType::Group);
        }
    }
    Ok(kinds)
}

/// One write in a [`Store::commit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Insert a resource (`version` 1, no such id yet) or replace the one
    /// stored at `version - 1`; anything else is [`StoreError::Stale`], so
    /// two writers that read one version cannot both replace it.
    Put(StoredResource),
    /// Delete a resource.
    Delete(ResourceType, String),
}

/// A change to a tenant's record, for [`Store::modify_tenant`].
pub type TenantChange<'a> = dyn for<'r> Fn(&'r mut TenantRecord) + Send + Sync + 'a;

/// Where SCIM resources, tenants and the event log are kept.
///
/// Async, so a networked store ([`PgStore`](crate::PgStore), feature
/// `postgres`) fits. [`MemoryStore`] and [`SqliteStore`] do their work
/// inline and complete without waiting on a runtime (SQLite on local disk
/// answers in microseconds), so their futures can be driven by any executor.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether calls block the thread they run on (a synchronous database
    /// inside the async methods, such as SQLite writing and syncing its
    /// file). The axum router runs requests on such a store on tokio's
    /// blocking pool, so the async workers never stall; requests on a store
    /// that only awaits ([`PgStore`](crate::PgStore), [`MemoryStore`]) run
    /// on the workers, sparing a thread hand-off at every database round
    /// trip. A store that does not say is taken to block.
    fn blocks(&self) -> bool {
        true
    }
    /// Adds a tenant; [`StoreError::Conflict`] if the id exists.
    async fn insert_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError>;
    /// Changes a tenant's record in one step: `change` is applied to the
    /// record as stored and the result written (name, status, token hashes;
    /// `created` stays), with no other change to that tenant in between,
    /// from this process or another, so concurrent administration loses no
    /// update. The new record, or `None` if there is no such tenant.
    async fn modify_tenant(
        &self,
        id: &str,
        change: &TenantChange<'_>,
    ) -> Result<Option<TenantRecord>, StoreError>;
    /// Deletes a tenant and everything stored for it (resources,
    /// memberships, events) in one transaction; `false` if there was no
    /// such tenant (its data, if any, is deleted all the same).
    async fn delete_tenant(&self, id: &str) -> Result<bool, StoreError>;
    /// A tenant by id.
    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError>;
    /// Every tenant, by id.
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;
    /// One resource.
    async fn get(
        &self,
        tenant: &str,
        rt: ResourceType,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// The resource whose [`StoredResource::unique_key`] is `key`.
    async fn find_by_key(
        &self,
        tenant: &str,
        rt: ResourceType,
        key: &str,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// Which of `ids` name a stored resource of kind `rt`: how a group
    /// write checks the members it adds in one lookup, not one per member.
    /// The default asks [`Store::get`] once per id; the PostgreSQL store
    /// answers with one query.
    async fn existing(
        &self,
        tenant: &str,
        rt: ResourceType,
        ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let mut found = std::collections::BTreeSet::new();
        for id in ids {
            if self.get(tenant, rt, id).await?.is_some() {
                found.insert(id.clone());
            }
        }
        Ok(found)
    }
    /// A group and which of `candidates` (the members a write is about to
    /// add) are stored users or groups, the group itself left out: what a
    /// PATCH of a group's members reads before it writes. A candidate that
    /// is both a user's and a group's id counts as the user. `None` when
    /// there is no such group. The default asks [`Store::get`] and
    /// [`Store::existing`]; the PostgreSQL store answers with one query.
    async fn group_and_kinds(
        &self,
        tenant: &str,
        group_id: &str,
        candidates: &[String],
    ) -> Result<Option<(StoredResource, MemberKinds)>, StoreError> {
        let Some(group) = self.get(tenant, ResourceType::Group, group_id).await? else {
            return Ok(None);
        };
        let kinds = kinds_of(self, tenant, candidates, group_id).await?;
        Ok(Some((group, kinds)))
    }
    /// The groups whose `members` list `member_id` (a user or a group),
    /// ordered by id: a lookup by index, not a scan of every group.
    async fn groups_with_member(
        &self,
        tenant: &str,
        member_id: &str,
    ) -> Result<Vec<StoredResource>, StoreError>;
    /// The groups listing each of `member_ids`, ordered by member and
    /// group id, without the groups' bodies: one lookup by index for a
    /// whole list page of users' `groups`. The default asks
    /// [`Store::groups_with_member`] once per member.
    async fn group_refs(
        &self,
        tenant: &str,
        member_ids: &[String],
    ) -> Result<Vec<GroupRef>, StoreError> {
        let mut ids: Vec<&String> = member_ids.iter().collect();
        ids.sort();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            for g in self.groups_with_member(tenant, id).await? {
                out.push(GroupRef {
                    member_id: id.clone(),
                    display_name: query::group_display_name(&g).unwrap_or_default().into(),
                    group_id: g.id,
                });
            }
        }
        Ok(out)
    }
    /// The resources of a kind that `q.filter` selects, in creation order
    /// (a resource keeps its place when replaced; a new one comes after
    /// every resource committed before it, so paging by offset neither
    /// repeats nor skips a resource while others are created), `q.limit`
    /// of them from `q.offset`, with how many it selects in all. The SQL
    /// stores answer from their indexes, the total and the page from one
    /// snapshot.
    async fn query(
        &self,
        tenant: &str,
        rt: ResourceType,
        q: &ResourceQuery<'_>,
    ) -> Result<ResourcePage, StoreError>;
    /// Up to `limit` resources with ids after `after`, ordered by id.
    async fn page(
        &self,
        tenant: &str,
        rt: ResourceType,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredResource>, StoreError>;
    /// Applies the writes and appends the changes, all or nothing.
    /// [`StoreError::Conflict`] naming the attribute when a unique key
    /// (`userName`, a group's `displayName`) is taken;
    /// [`StoreError::Stale`] when a [`Write::Put`] is not based on the
    /// stored version; [`StoreError::NoTenant`] when the tenant does not
    /// exist, checked in the same transaction, so a request authorized just
    /// before its tenant was deleted writes nothing after the delete.
    async fn commit(
        &self,
        tenant: &str,
        writes: Vec<Write>,
        changes: Vec<Change>,
    ) -> Result<(), StoreError>;
    /// Up to `limit` events of `tenant` after `after`, oldest first.
    async fn events(
        &self,
        tenant: &str,
        after: EventCursor,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;
    /// The last event of `tenant`, if any: where a full read of its
    /// directory starts following the log. The default reads the log from
    /// the start; the stores shipped here look it up directly.
    async fn last_event(&self, tenant: &str) -> Result<Option<Event>, StoreError> {
        let (mut after, mut last) = (EventCursor::START, None);
        loop {
            let page = self.events(tenant, after, 1000).await?;
            let done = page.len() < 1000;
            if let Some(e) = page.last() {
                after = EventCursor(e.seq);
                last = Some(e.clone());
            }
            if done {
                return Ok(last);
            }
        }
    }
}
