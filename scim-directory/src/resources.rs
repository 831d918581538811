//! The /Users and /Groups handlers: create, get, list, replace, patch, delete.
//!
//! Every write runs under the service's write lock: read, check, then one
//! [`Store::commit`] with the resource writes and their events. A commit
//! that finds the resource changed since it was read (another process on a
//! shared database) is redone from the read, so no update is lost.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::errors::{json_response, ScimError, StoreError};
use crate::events::Change;
use crate::model::{self, group_to_model, same_user, user_to_model};
use crate::patch;
use crate::render::{self, Query};
use crate::schema::ResourceType;
use crate::service::ScimService;
use crate::store::{self, MemberKinds, Store, StoredResource, Write};

/// Members looked up with the group a PATCH reads
/// ([`Store::group_and_kinds`]): the ids asked about, and which of them are
/// users or groups.
#[derive(Default)]
struct LookedUp {
    asked: BTreeSet<String>,
    kinds: MemberKinds,
}

/// How often a write that lost a race with another writer (another server
/// process on the same database) is read and applied again. Each lost race
/// means another write committed, so a write fails only after this many
/// others landed on the same resource meanwhile; 8 was too few for a burst
/// of a dozen member PATCHes on one group from four processes (seen in the
/// cross-process test under load).
const STALE_RETRIES: usize = 32;

/// Runs `attempt` again while it loses a race with another writer, at most
/// [`STALE_RETRIES`] times more; then its 409 stands.
async fn retry_stale<T, F, Fut>(mut attempt: F) -> Result<T, ScimError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ScimError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if e == ScimError::stale() && tries < STALE_RETRIES => tries += 1,
            done => return done,
        }
    }
}

/// One request's context: the service, the tenant and its base URL.
pub(crate) struct Ctx<'a> {
    pub service: &'a ScimService,
    pub tenant: &'a str,
    pub base: &'a str,
}

fn parse_json(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

fn not_found(rt: ResourceType, id: &str) -> ScimError {
    ScimError::not_found(format!("{} {id} not found", rt.name()))
}

impl Ctx<'_> {
    fn store(&self) -> &dyn Store {
        self.service.store()
    }

    async fn load(&self, rt: ResourceType, id: &str) -> Result<StoredResource, ScimError> {
        self.store()
            .get(self.tenant, rt, id)
            .await?
            .ok_or_else(|| not_found(rt, id))
    }

    async fn respond(
        &self,
        status: StatusCode,
        r: &StoredResource,
    ) -> Result<Response<Bytes>, ScimError> {
        let body = render::resource(self, r).await?;
        Ok(self.with_headers(json_response(status, &body), r))
    }

    /// `ETag` and `Location` of `r` on its response.
    fn with_headers(&self, mut resp: Response<Bytes>, r: &StoredResource) -> Response<Bytes> {
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&render::etag(r)) {
            headers.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&render::location(self.base, r)) {
            headers.insert(header::LOCATION, v);
        }
        resp
    }

    pub(crate) async fn get(
        &self,
        rt: ResourceType,
        id: &str,
        query: &str,
    ) -> Result<Response<Bytes>, ScimError> {
        let q = Query::parse(query, self.service.config())?;
        let r = self.load(rt, id).await?;
        let body = q.project(render::resource(self, &r).await?);
        Ok(json_response(StatusCode::OK, &body))
    }

    pub(crate) async fn list(
        &self,
        rt: ResourceType,
        query: &str,
    ) -> Result<Response<Bytes>, ScimError> {
        let q = Query::parse(query, self.service.config())?;
        render::list(self, &[rt], &q).await
    }

    /// `POST /.search` (all types) or `POST /Users/.search`.
    pub(crate) async fn search(
        &self,
        types: &[ResourceType],
        body: &[u8],
    ) -> Result<Response<Bytes>, ScimError> {
        let q = Query::from_search(&parse_json(body)?, self.service.config())?;
        render::list(self, types, &q).await
    }

    pub(crate) async fn create(
        &self,
        rt: ResourceType,
        body: &[u8],
    ) -> Result<Response<Bytes>, ScimError> {
        let body = model::normalize(rt, parse_json(body)?)?;
        let _guard = self.service.write_guard(self.tenant).await;
        let now = self.service.now();
        let mut r = StoredResource {
            resource_type: rt,
            id: uuid::Uuid::new_v4().to_string(),
            body,
            created: now,
            last_modified: now,
            version: 1,
        };
        // Uniqueness is the store's to enforce (the database's unique index,
        // across processes); only a refused commit looks up the holder.
        let mut changes = Vec::new();
        if rt == ResourceType::Group {
            self.resolve_members(&mut r, &BTreeMap::new(), None).await?;
            changes.push(Change::GroupCreated {
                group: group_to_model(&r.id, &r.body, now),
            });
            changes.extend(membership_changes(&r.id, &[], &user_members(&r.body)));
        } else {
            changes.push(Change::UserCreated {
                user: user_to_model(&r.id, &r.body, now),
            });
        }
        let committed = self
            .store()
            .commit(self.tenant, vec![Write::Put(r.clone())], changes)
            .await;
        self.unless_taken(&r, committed).await?;
        // A user just created is in no group (a group lists only members
        // that exist): rendered without looking its groups up.
        let body = render::new_resource(self, &r).await?;
        Ok(self.with_headers(json_response(StatusCode::CREATED, &body), &r))
    }

    /// A commit's result; a refused unique key names the resource holding
    /// it, when it can still be found.
    async fn unless_taken(
        &self,
        r: &StoredResource,
        committed: Result<(), StoreError>,
    ) -> Result<(), ScimError> {
        match committed {
            Err(e @ StoreError::Conflict(_)) => {
                self.check_unique(r).await?;
                Err(e.into())
            }
            other => Ok(other?),
        }
    }

    pub(crate) async fn replace(
        &self,
        rt: ResourceType,
        id: &str,
        body: &[u8],
    ) -> Result<Response<Bytes>, ScimError> {
        let body = model::normalize(rt, parse_json(body)?)?;
        let _guard = self.service.write_guard(self.tenant).await;
        let new = retry_stale(|| self.replace_once(rt, id, body.clone())).await?;
        self.respond(StatusCode::OK, &new).await
    }

    async fn replace_once(
        &self,
        rt: ResourceType,
        id: &str,
        mut body: Value,
    ) -> Result<StoredResource, ScimError> {
        let old = self.load(rt, id).await?;
        keep_active(&old.body, &mut body);
        self.update(old, body, None).await
    }

    /// A PATCH answers a group with 204 No Content (Entra asks for it: a
    /// group may have hundreds of thousands of members) and a user with 200
    /// and the user; either is 200 with the projection when the query names
    /// `attributes` or `excludedAttributes` (RFC 7644 §3.5.2).
    pub(crate) async fn patch(
        &self,
        rt: ResourceType,
        id: &str,
        body: &[u8],
        query: &str,
    ) -> Result<Response<Bytes>, ScimError> {
        let q = Query::parse(query, self.service.config())?;
        let limits = self.service.config().filter_limits;
        let ops = patch::parse_patch(&parse_json(body)?, limits)?;
        let _guard = self.service.write_guard(self.tenant).await;
        let new = retry_stale(|| self.patch_once(rt, id, ops.clone())).await?;
        if q.asks_for_attributes() {
            let body = q.project(render::resource(self, &new).await?);
            return Ok(json_response(StatusCode::OK, &body));
        }
        match rt {
            ResourceType::Group => Ok(no_content()),
            ResourceType::User => self.respond(StatusCode::OK, &new).await,
        }
    }

    /// Reads the resource, applies the operations and writes the result.
    /// A group is read together with the members the operations name
    /// (one lookup, not a read and then a lookup of what it adds).
    async fn patch_once(
        &self,
        rt: ResourceType,
        id: &str,
        ops: Vec<patch::PatchOp>,
    ) -> Result<StoredResource, ScimError> {
        let limits = self.service.config().filter_limits;
        let (old, looked_up) = match rt {
            ResourceType::User => (self.load(rt, id).await?, None),
            ResourceType::Group => {
                let asked = member_values(&ops);
                let (group, kinds) = self
                    .store()
                    .group_and_kinds(self.tenant, id, &asked)
                    .await?
                    .ok_or_else(|| not_found(rt, id))?;
                let asked = asked.into_iter().collect();
                (group, Some(LookedUp { asked, kinds }))
            }
        };
        let mut map = old.body.as_object().cloned().unwrap_or_default();
        patch::apply(rt, &mut map, ops, limits)?;
        let body = model::normalize(rt, Value::Object(map))?;
        self.update(old, body, looked_up).await
    }

    /// Writes a changed body (PUT or PATCH) with the events the change
    /// means; the resource as it now is. `looked_up`: members already
    /// looked up with the group.
    async fn update(
        &self,
        old: StoredResource,
        body: Value,
        looked_up: Option<LookedUp>,
    ) -> Result<StoredResource, ScimError> {
        let mut new = old.clone();
        new.body = body;
        // A key the resource already holds cannot be taken by another.
        if new.unique_key() != old.unique_key() {
            self.check_unique(&new).await?;
        }
        if new.resource_type == ResourceType::Group {
            self.resolve_members(&mut new, &member_kinds(&old.body), looked_up)
                .await?;
        }
        if new.body == old.body {
            return Ok(old);
        }
        new.last_modified = self.service.now();
        new.version = old.version + 1;
        let changes = match new.resource_type {
            ResourceType::User => user_changes(&old, &new),
            ResourceType::Group => group_changes(&old, &new),
        };
        let changes = or_touched(changes, &new);
        let committed = self
            .store()
            .commit(self.tenant, vec![Write::Put(new.clone())], changes)
            .await;
        self.unless_taken(&new, committed).await?;
        Ok(new)
    }

    pub(crate) async fn delete(
        &self,
        rt: ResourceType,
        id: &str,
    ) -> Result<Response<Bytes>, ScimError> {
        let _guard = self.service.write_guard(self.tenant).await;
        retry_stale(|| self.delete_once(rt, id)).await
    }

    /// Deletes the resource and takes it out of every group, in one commit.
    async fn delete_once(&self, rt: ResourceType, id: &str) -> Result<Response<Bytes>, ScimError> {
        let old = self.load(rt, id).await?;
        let (mut writes, mut changes) = match rt {
            ResourceType::User => self.remove_from_groups(id).await?,
            ResourceType::Group => {
                let removed = membership_changes(id, &user_members(&old.body), &[]);
                let (w, mut c) = self.remove_from_groups(id).await?;
                c.extend(removed);
                (w, c)
            }
        };
        writes.push(Write::Delete(rt, id.to_string()));
        changes.push(match rt {
            ResourceType::User => Change::UserDeleted {
                user_id: id.to_string(),
            },
            ResourceType::Group => Change::GroupDeleted {
                group_id: id.to_string(),
            },
        });
        self.store().commit(self.tenant, writes, changes).await?;
        Ok(no_content())
    }

    /// Takes `member_id` out of every group that lists it.
    async fn remove_from_groups(
        &self,
        member_id: &str,
    ) -> Result<(Vec<Write>, Vec<Change>), ScimError> {
        let now = self.service.now();
        let mut writes = Vec::new();
        let mut changes = Vec::new();
        for mut g in self
            .store()
            .groups_with_member(self.tenant, member_id)
            .await?
        {
            let Some(Value::Array(members)) = g.body.get_mut("members") else {
                continue;
            };
            let is_member = |m: &Value| m.get("value").and_then(Value::as_str) == Some(member_id);
            let Some(found) = members.iter().find(|m| is_member(m)) else {
                continue;
            };
            let was_user = found.get(MEMBER_KIND).and_then(Value::as_str) != Some("Group");
            members.retain(|m| !is_member(m));
            changes.push(if was_user {
                Change::MembershipRemoved {
                    group_id: g.id.clone(),
                    user_id: member_id.into(),
                }
            } else {
                Change::NestedGroupsChanged {
                    group_id: g.id.clone(),
                }
            });
            g.last_modified = now;
            g.version += 1;
            writes.push(Write::Put(g));
        }
        Ok((writes, changes))
    }

    async fn check_unique(&self, r: &StoredResource) -> Result<(), ScimError> {
        let Some(key) = r.unique_key() else {
            return Ok(());
        };
        let rt = r.resource_type;
        match self.store().find_by_key(self.tenant, rt, &key).await? {
            Some(other) if other.id != r.id => {
                let attr = store::unique_attribute(rt);
                let value = r.body.get(attr).and_then(Value::as_str).unwrap_or_default();
                Err(ScimError::uniqueness(format!(
                    "{attr} {value} is already used by {} {} ({attr} is case-insensitive)",
                    rt.name().to_lowercase(),
                    other.id
                )))
            }
            _ => Ok(()),
        }
    }

    /// Checks every member exists and records (under [`MEMBER_KIND`], hidden
    /// from clients) whether it is a User or a Group; the client's own
    /// `value`, `type` and `display` are kept as sent. A member the stored
    /// group already lists (`known`, from the version this write replaces)
    /// is not looked up again, nor one `looked_up` with the group, and the
    /// others are looked up together (one query for users, one for what is
    /// left among groups): adding members to a group costs at most two
    /// lookups however many it adds, not one per member. (A member deleted
    /// since is no longer in that version: a delete takes it out of every
    /// group, and the write commits only over the version it read.)
    async fn resolve_members(
        &self,
        g: &mut StoredResource,
        known: &BTreeMap<String, ResourceType>,
        looked_up: Option<LookedUp>,
    ) -> Result<(), ScimError> {
        let Some(Value::Array(members)) = g.body.get_mut("members") else {
            return Ok(());
        };
        let mut seen = BTreeSet::new();
        let mut kept = Vec::with_capacity(members.len());
        for m in members.drain(..) {
            let Value::Object(m) = m else { continue };
            let id = m
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if seen.insert(id.clone()) {
                kept.push((id, m));
            }
        }
        let looked_up = looked_up.unwrap_or_default();
        let new: Vec<String> = kept
            .iter()
            .filter(|(id, _)| !known.contains_key(id) && !looked_up.asked.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        let mut kinds = store::kinds_of(self.store(), self.tenant, &new, &g.id).await?;
        kinds.extend(looked_up.kinds);
        let mut resolved = Vec::with_capacity(kept.len());
        for (id, mut m) in kept {
            let Some(kind) = known.get(&id).or_else(|| kinds.get(&id)) else {
                return Err(ScimError::invalid_value(format!(
                    "member {id} is neither a user nor another group of this directory; provision it first"
                )));
            };
            m.remove("$ref");
            m.insert(MEMBER_KIND.into(), Value::String(kind.name().into()));
            resolved.push(Value::Object(m));
        }
        *members = resolved;
        Ok(())
    }
}

fn no_content() -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// A PUT that does not mention `active` keeps the user's state: a
/// replacement that forgets the flag must not reactivate or deactivate
/// anyone (Okta's AIW integrations PUT whole users).
fn keep_active(old: &Value, new: &mut Value) {
    if let (Some(active), Some(obj)) = (old.get("active"), new.as_object_mut()) {
        obj.entry("active").or_insert_with(|| active.clone());
    }
}

/// The key under which a stored member records whether it is a User or a
/// Group (the client's `type` is kept as sent and may be anything).
pub(crate) const MEMBER_KIND: &str = "$kind";

/// The members a stored group lists, with whether each is a User or a Group.
/// The ids a PATCH's operations give as members' `value`s (a list of
/// members, one member, or a path-less operation's `members`): the members
/// it may add, looked up with the group it reads. Naming more than it adds
/// (an id it removes, say) costs nothing but a longer lookup.
fn member_values(ops: &[patch::PatchOp]) -> Vec<String> {
    fn collect(v: &Value, ids: &mut BTreeSet<String>) {
        match v {
            Value::Array(items) => items.iter().for_each(|m| collect(m, ids)),
            Value::Object(m) => {
                if let Some(id) = m.get("value").and_then(Value::as_str) {
                    ids.insert(id.to_string());
                }
                m.iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case("members"))
                    .for_each(|(_, list)| collect(list, ids));
            }
            _ => {}
        }
    }
    let mut ids = BTreeSet::new();
    for v in ops.iter().filter_map(|op| op.value.as_ref()) {
        collect(v, &mut ids);
    }
    ids.into_iter().collect()
}

fn member_kinds(body: &Value) -> BTreeMap<String, ResourceType> {
    body.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let id = m.get("value").and_then(Value::as_str)?;
            let kind = match m.get(MEMBER_KIND).and_then(Value::as_str)? {
                "Group" => ResourceType::Group,
                _ => ResourceType::User,
            };
            Some((id.to_string(), kind))
        })
        .collect()
}

/// The ids of a group's user members.
pub(crate) fn user_members(body: &Value) -> Vec<String> {
    body.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get(MEMBER_KIND).and_then(Value::as_str) != Some("Group"))
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The ids of a group's group members (nested groups).
pub(crate) fn group_members(body: &Value) -> Vec<String> {
    body.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get(MEMBER_KIND).and_then(Value::as_str) == Some("Group"))
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn membership_changes(group_id: &str, old: &[String], new: &[String]) -> Vec<Change> {
    let old: BTreeSet<&String> = old.iter().collect();
    let new: BTreeSet<&String> = new.iter().collect();
    let removed = old.difference(&new).map(|u| Change::MembershipRemoved {
        group_id: group_id.into(),
        user_id: (*u).clone(),
    });
    let added = new.difference(&old).map(|u| Change::MembershipAdded {
        group_id: group_id.into(),
        user_id: (*u).clone(),
    });
    removed.chain(added).collect()
}

fn user_changes(old: &StoredResource, new: &StoredResource) -> Vec<Change> {
    let before = user_to_model(&old.id, &old.body, old.last_modified);
    let user = user_to_model(&new.id, &new.body, new.last_modified);
    let was_active = before.status == directory_core::UserStatus::Active;
    let is_active = user.status == directory_core::UserStatus::Active;
    match (was_active, is_active) {
        (true, false) => vec![Change::UserDeactivated { user }],
        (false, true) => vec![Change::UserReactivated { user }],
        _ if !same_user(&before, &user) => vec![Change::UserUpdated { user }],
        _ => Vec::new(),
    }
}

/// A write that changes the body but none of the directory's attributes
/// (an attribute the model does not map) still moves `lastModified`, which
/// the directory shows as `last_updated`: it is logged as an update, so a
/// reader of the log sees every write.
fn or_touched(changes: Vec<Change>, new: &StoredResource) -> Vec<Change> {
    if !changes.is_empty() {
        return changes;
    }
    vec![match new.resource_type {
        ResourceType::User => Change::UserUpdated {
            user: user_to_model(&new.id, &new.body, new.last_modified),
        },
        ResourceType::Group => Change::GroupUpdated {
            group: group_to_model(&new.id, &new.body, new.last_modified),
        },
    }]
}

fn group_changes(old: &StoredResource, new: &StoredResource) -> Vec<Change> {
    let before = group_to_model(&old.id, &old.body, old.last_modified);
    let group = group_to_model(&new.id, &new.body, new.last_modified);
    let mut changes = Vec::new();
    if before.name != group.name || before.description != group.description {
        changes.push(Change::GroupUpdated { group });
    }
    changes.extend(membership_changes(
        &new.id,
        &user_members(&old.body),
        &user_members(&new.body),
    ));
    let nested = |r: &StoredResource| group_members(&r.body).into_iter().collect::<BTreeSet<_>>();
    if nested(old) != nested(new) {
        changes.push(Change::NestedGroupsChanged {
            group_id: new.id.clone(),
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::FilterLimits;

    fn ops(body: Value) -> Vec<patch::PatchOp> {
        patch::parse_patch(&body, FilterLimits::default()).unwrap()
    }

    /// What Okta, Entra and a path-less PATCH name as members is looked up
    /// with the group; a removal's filter names no value to look up.
    #[test]
    fn member_values_are_read_from_every_shape_of_add() {
        let okta = ops(serde_json::json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u3\"]"}
        ]}));
        assert_eq!(member_values(&okta), ["u1", "u2"]);
        let entra = ops(serde_json::json!({"Operations": [
            {"op": "Add", "path": "members", "value": [{"value": "u4"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "u5"}]}
        ]}));
        assert_eq!(member_values(&entra), ["u4", "u5"]);
        let pathless = ops(serde_json::json!({"Operations": [
            {"op": "replace", "value": {"displayName": "G", "Members": [{"value": "g7"}]}}
        ]}));
        assert_eq!(member_values(&pathless), ["g7"]);
        let rename = ops(serde_json::json!({"Operations": [
            {"op": "replace", "path": "displayName", "value": "H"}
        ]}));
        assert!(member_values(&rename).is_empty());
    }
}
