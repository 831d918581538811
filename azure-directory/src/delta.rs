//! Incremental sync with Graph delta queries (`users/delta`, `groups/delta`
//! with `members@delta`).
//!
//! The host keeps a [`DeltaState`] (JSON) beside its last [`Snapshot`]. The
//! next [`AzureDirectory::delta_sync`] fetches only what changed since, and
//! [`DeltaOutcome::apply`] turns the previous snapshot plus the changes into
//! the new complete snapshot. When Graph says the delta token expired or the
//! sync state was reset (`syncStateNotFound`, `resyncRequired`, 410 Gone...),
//! the sync starts over with a full delta round by itself, logs a warning and
//! says so in [`DeltaOutcome::reset`].

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use directory_core::http::url::Url;
use directory_core::{
    AppAssignment, DirectoryGroup, DirectoryUser, Error, ErrorKind, Result, Snapshot,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{is_delta_reset, Permission};
use crate::decode::{MemberKind, WireAssignment, WireGroup, GROUP_SELECT};
use crate::provider::{AzureDirectory, Inner, PERM_APPS, PERM_GROUPS, PERM_USERS};
use crate::user::WireUser;

/// What a host keeps between delta syncs: the two delta links and the nested
/// group edges (which a [`directory_core::Snapshot`] does not hold). It
/// serializes to JSON. Graph keeps delta tokens for about seven days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaState {
    /// The tenant the links belong to.
    pub tenant_id: String,
    /// The `@odata.deltaLink` of the last users round.
    pub users_delta_link: String,
    /// The `@odata.deltaLink` of the last groups round.
    pub groups_delta_link: String,
    /// Group id to the ids of the groups nested directly in it.
    #[serde(default)]
    pub nested_groups: BTreeMap<String, BTreeSet<String>>,
    /// When this state was made.
    pub saved_at: DateTime<Utc>,
}

/// Why a delta sync started over with a full round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaReset {
    /// The Graph error code (`syncStateNotFound`, `resyncRequired`...), or
    /// `tenantMismatch` when the state belongs to another tenant.
    pub code: String,
    /// The HTTP status Graph answered with, if any.
    pub status: Option<u16>,
    /// Graph's request id, for support.
    pub request_id: Option<String>,
}

/// An SSO app assignment row: a user, or a group whose direct members are
/// assigned. Kept raw so [`DeltaOutcome::apply`] expands groups from the new
/// memberships without extra requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedPrincipal {
    /// The user's or group's object id.
    pub principal_id: String,
    /// Whether the principal is a group.
    pub is_group: bool,
    /// The app role; `None` for default access.
    pub role: Option<String>,
}

/// What changed since the previous state (everything, on a full round).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectoryChanges {
    /// Users created or changed, complete with their selected properties.
    pub users_changed: Vec<DirectoryUser>,
    /// Ids of users deleted (soft or hard).
    pub users_removed: Vec<String>,
    /// Groups created or changed.
    pub groups_changed: Vec<DirectoryGroup>,
    /// Ids of groups deleted.
    pub groups_removed: Vec<String>,
    /// Direct user memberships added, as (group id, user id).
    pub members_added: Vec<(String, String)>,
    /// Direct user memberships removed, as (group id, user id).
    pub members_removed: Vec<(String, String)>,
    /// The SSO app's assignments, always complete (Graph has no delta for them).
    pub assigned: Vec<AssignedPrincipal>,
}

impl DirectoryChanges {
    /// Whether nothing changed in users, groups or memberships.
    pub fn is_empty(&self) -> bool {
        self.users_changed.is_empty()
            && self.users_removed.is_empty()
            && self.groups_changed.is_empty()
            && self.groups_removed.is_empty()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
    }
}

/// The result of [`AzureDirectory::delta_sync`].
#[derive(Debug, Clone)]
pub struct DeltaOutcome {
    /// The changes (everything when `full_sync`).
    pub changes: DirectoryChanges,
    /// The state to keep for the next sync.
    pub state: DeltaState,
    /// Whether this was a full round: no previous state, or a reset.
    pub full_sync: bool,
    /// Set when a previous state was given but could not be used.
    pub reset: Option<DeltaReset>,
    /// The provider name, for the snapshot `apply` builds.
    pub(crate) provider: String,
}

impl AzureDirectory {
    /// Fetches what changed since `previous` (or everything, without one).
    ///
    /// An expired or reset delta token falls back to a full round by itself:
    /// a `tracing` warning is logged and [`DeltaOutcome::reset`] says why.
    pub async fn delta_sync(&self, previous: Option<&DeltaState>) -> Result<DeltaOutcome> {
        let inner = &self.inner;
        let Some(prev) = previous else {
            return run(inner, None).await.map(|o| o.with_reset(None));
        };
        if prev.tenant_id != inner.tenant_id {
            let reset = DeltaReset {
                code: "tenantMismatch".into(),
                status: None,
                request_id: None,
            };
            tracing::warn!(provider = %inner.name, state_tenant = %prev.tenant_id, "delta state belongs to another tenant; running a full sync");
            return run(inner, None).await.map(|o| o.with_reset(Some(reset)));
        }
        match run(inner, Some(prev)).await {
            Err(e) if is_reset_error(&e) => {
                let reset = DeltaReset {
                    code: e.code().unwrap_or("syncStateNotFound").to_string(),
                    status: e.status(),
                    request_id: e.request_id().map(String::from),
                };
                tracing::warn!(provider = %inner.name, code = %reset.code, status = ?reset.status,
                    "the delta token expired or was reset; falling back to a full sync");
                run(inner, None).await.map(|o| o.with_reset(Some(reset)))
            }
            other => other,
        }
    }
}

impl AzureDirectory {
    /// [`AzureDirectory::delta_sync`] and [`DeltaOutcome::apply`] in one:
    /// the new complete snapshot and the outcome (keep `outcome.state` and
    /// the snapshot for next time). Without a previous pair this is a full
    /// sync, usually with far fewer requests than the per-group streams.
    pub async fn delta_snapshot(
        &self,
        previous: Option<(&Snapshot, &DeltaState)>,
    ) -> Result<(Snapshot, DeltaOutcome)> {
        let outcome = self.delta_sync(previous.map(|(_, state)| state)).await?;
        let snapshot = outcome.apply(previous.map(|(snap, _)| snap))?;
        Ok((snapshot, outcome))
    }
}

impl DeltaOutcome {
    fn with_reset(mut self, reset: Option<DeltaReset>) -> Self {
        self.reset = reset;
        self
    }
}

fn is_reset_error(e: &Error) -> bool {
    e.status() == Some(410) || e.code().is_some_and(is_delta_reset)
}

async fn run(inner: &Inner, prev: Option<&DeltaState>) -> Result<DeltaOutcome> {
    let (users_url, groups_url) = match prev {
        Some(p) => (
            inner.client.follow(&p.users_delta_link)?,
            inner.client.follow(&p.groups_delta_link)?,
        ),
        None => initial_urls(inner)?,
    };
    let mut changes = DirectoryChanges::default();
    let (users, users_link) =
        round::<WireUser>(inner, users_url, "users delta", PERM_USERS).await?;
    for u in users {
        if u.removed.is_some() {
            changes.users_removed.push(u.id);
        } else {
            changes.users_changed.push(u.into_model());
        }
    }
    let (groups, groups_link) =
        round::<WireGroup>(inner, groups_url, "groups delta", PERM_GROUPS).await?;
    let mut nested = prev.map(|p| p.nested_groups.clone()).unwrap_or_default();
    merge_groups(groups, &mut changes, &mut nested);
    changes.assigned = assigned(inner).await?;
    let state = DeltaState {
        tenant_id: inner.tenant_id.clone(),
        users_delta_link: users_link,
        groups_delta_link: groups_link,
        nested_groups: nested,
        saved_at: Utc::now(),
    };
    Ok(DeltaOutcome {
        changes,
        state,
        full_sync: prev.is_none(),
        reset: None,
        provider: inner.name.clone(),
    })
}

fn initial_urls(inner: &Inner) -> Result<(Url, Url)> {
    let users = inner
        .client
        .v1(&format!("users/delta?$select={}", inner.user_select))?;
    let groups = inner.client.v1(&format!(
        "groups/delta?$select={},members",
        GROUP_SELECT.join(",")
    ))?;
    Ok((users, groups))
}

/// Folds group entries into the changes. One group may come in several
/// entries, each with a slice of `members@delta`.
fn merge_groups(
    groups: Vec<WireGroup>,
    changes: &mut DirectoryChanges,
    nested: &mut BTreeMap<String, BTreeSet<String>>,
) {
    let mut seen = HashSet::new();
    for g in groups {
        if g.removed.is_some() {
            nested.remove(&g.id);
            changes.groups_removed.push(g.id);
            continue;
        }
        if seen.insert(g.id.clone()) {
            changes.groups_changed.push(g.to_model());
        }
        for m in g.members_delta.iter().flatten() {
            let removed = m.removed.is_some();
            match m.kind() {
                MemberKind::User if removed => {
                    changes.members_removed.push((g.id.clone(), m.id.clone()))
                }
                MemberKind::User => changes.members_added.push((g.id.clone(), m.id.clone())),
                MemberKind::Group if removed => {
                    if let Some(children) = nested.get_mut(&g.id) {
                        children.remove(&m.id);
                    }
                }
                MemberKind::Group => {
                    nested.entry(g.id.clone()).or_default().insert(m.id.clone());
                }
                MemberKind::Other => {}
            }
        }
    }
    nested.retain(|_, children| !children.is_empty());
}

/// One delta round: follows next links to the delta link, on the Graph
/// origin only, refusing a link that repeats.
async fn round<W: DeserializeOwned>(
    inner: &Inner,
    first: Url,
    what: &str,
    need: Permission,
) -> Result<(Vec<W>, String)> {
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut url = first;
    loop {
        if !seen.insert(url.to_string()) {
            return Err(Error::invalid_response(format!(
                "{what}: the next link repeats an earlier page; stopping instead of looping"
            ))
            .with_provider(&inner.name));
        }
        let page = inner.client.page::<W>(what, &url, need).await?;
        items.extend(page.value);
        match (page.next_link, page.delta_link) {
            (Some(next), _) => url = inner.client.follow(&next)?,
            (None, Some(delta)) => {
                inner.client.follow(&delta)?;
                return Ok((items, delta));
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidResponse,
                    format!("{what}: the last page has neither a next link nor a delta link"),
                )
                .with_provider(&inner.name))
            }
        }
    }
}

/// The complete assignment rows of the SSO app (empty without one).
async fn assigned(inner: &Inner) -> Result<Vec<AssignedPrincipal>> {
    let Some(sp) = inner.service_principal_id.as_deref() else {
        return Ok(Vec::new());
    };
    let mut url = inner.assignments_url(sp)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    loop {
        if !seen.insert(url.to_string()) {
            return Err(Error::invalid_response(
                "app assignments: the next link repeats an earlier page",
            )
            .with_provider(&inner.name));
        }
        let page = inner
            .client
            .page::<WireAssignment>("list the SSO app's assignments", &url, PERM_APPS)
            .await?;
        out.extend(page.value.into_iter().filter_map(principal));
        match page.next_link {
            Some(next) => url = inner.client.follow(&next)?,
            None => return Ok(out),
        }
    }
}

fn principal(a: WireAssignment) -> Option<AssignedPrincipal> {
    let role = a.role();
    let kind = a.principal_type?;
    let is_group = kind.eq_ignore_ascii_case("Group");
    (is_group || kind.eq_ignore_ascii_case("User")).then_some(AssignedPrincipal {
        principal_id: a.principal_id?,
        is_group,
        role,
    })
}

/// Expands assignment rows with the direct members of assigned groups.
pub(crate) fn expand_assignments(
    rows: &[AssignedPrincipal],
    direct: &crate::apply::Direct<'_>,
) -> Vec<AppAssignment> {
    let mut out = Vec::new();
    for r in rows {
        if !r.is_group {
            out.push(AppAssignment {
                user_id: r.principal_id.clone(),
                via: directory_core::AssignedVia::Direct,
                role: r.role.clone(),
            });
            continue;
        }
        for user in direct.get(r.principal_id.as_str()).into_iter().flatten() {
            out.push(AppAssignment {
                user_id: user.to_string(),
                via: directory_core::AssignedVia::Group {
                    group_id: Some(r.principal_id.clone()),
                },
                role: r.role.clone(),
            });
        }
    }
    out
}
