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
use std::sync::Arc;

use chrono::{DateTime, Utc};
use directory_core::http::url::Url;
use directory_core::http::Listing;
use directory_core::{
    expand_grants, AppAssignment, AppGrant, AssignedVia, DirectoryGroup, DirectoryUser, Error,
    ErrorKind, Page, Result, Snapshot,
};
use futures::TryStreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{pages, GraphPage, Permission};
use crate::decode::{MemberKind, WireAssignment, WireGroup, GROUP_SELECT};
use crate::errors::is_delta_reset;
use crate::provider::{list, AzureDirectory, Inner, PERM_APPS, PERM_GROUPS, PERM_USERS};
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

async fn run(inner: &Arc<Inner>, prev: Option<&DeltaState>) -> Result<DeltaOutcome> {
    let (users, groups) = rounds(inner, prev)?;
    let mut changes = DirectoryChanges::default();
    // The three listings do not depend on one another: read side by side,
    // the round takes as long as its longest chain of pages.
    let ((users, users_link), (groups, groups_link), assigned) = futures::try_join!(
        round(inner, users, "users delta", PERM_USERS, user_delta),
        round(inner, groups, "groups delta", PERM_GROUPS, |g: WireGroup| g),
        assigned(inner),
    )?;
    for (removed, user) in users {
        if removed {
            changes.users_removed.push(user.id);
        } else {
            changes.users_changed.push(user);
        }
    }
    let mut nested = prev.map(|p| p.nested_groups.clone()).unwrap_or_default();
    merge_groups(groups, &mut changes, &mut nested);
    changes.assigned = assigned;
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

/// Where a round starts, and the listing its links must stay on.
struct Round {
    /// The first page: the listing itself, or the previous delta link.
    first: Url,
    /// The listing (`users/delta`, `groups/delta`): every next link and the
    /// delta link must keep its origin and path.
    listing: Listing,
}

/// The users and groups rounds: from the previous delta links (which must be
/// links of those listings), or from the start.
fn rounds(inner: &Inner, prev: Option<&DeltaState>) -> Result<(Round, Round)> {
    let (users, groups) = initial_urls(inner)?;
    let (users, groups) = (
        inner.client.api.listing(users),
        inner.client.api.listing(groups),
    );
    let (users_first, groups_first) = match prev {
        Some(p) => (
            users.link(&p.users_delta_link)?,
            groups.link(&p.groups_delta_link)?,
        ),
        None => (users.url().clone(), groups.url().clone()),
    };
    let round = |first, listing| Round { first, listing };
    Ok((round(users_first, users), round(groups_first, groups)))
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

/// A user on a delta page: whether it was removed, and the user (only its
/// id when removed).
fn user_delta(u: WireUser) -> (bool, DirectoryUser) {
    (u.removed.is_some(), u.into_model())
}

/// What a delta round's pages carry: items, and on the last page the delta
/// link for the next round.
#[derive(Debug, Clone, PartialEq)]
enum Entry<T> {
    Item(T),
    DeltaLink(String),
}

/// One delta round through directory-core's one paginator
/// ([`Listing::pages_from`]): next links and the delta link stay on the
/// round's listing (origin and path), a repeated link, endless empty pages
/// and the same page over and over under fresh links end the round with an
/// error, like every other listing.
async fn round<W, T>(
    inner: &Arc<Inner>,
    start: Round,
    what: &'static str,
    need: Permission,
    map: fn(W) -> T,
) -> Result<(Vec<T>, String)>
where
    W: DeserializeOwned + Send + 'static,
    T: Clone + PartialEq + Send + 'static,
{
    let listing = start.listing.clone();
    let provider = inner.name.clone();
    // Graph's cursor function for a round: the next link, or on the last
    // page the delta link (checked on the listing too), handed on as the
    // page's last entry.
    let pages = pages(
        inner.client.clone(),
        start.listing,
        start.first,
        what.into(),
        need,
        move |page: GraphPage<W>| {
            let mut items: Vec<Entry<T>> =
                page.value.into_iter().map(map).map(Entry::Item).collect();
            match (page.next_link, page.delta_link) {
                (Some(next), _) => Ok(Page::new(items, Some(next))),
                (None, Some(delta)) => {
                    listing.link(&delta)?;
                    items.push(Entry::DeltaLink(delta));
                    Ok(Page::new(items, None))
                }
                (None, None) => Err(no_link(what, &provider)),
            }
        },
    );
    let (items, link) = pages
        .try_fold(
            (Vec::new(), None),
            |(mut items, mut link), page| async move {
                for entry in page {
                    match entry {
                        Entry::Item(t) => items.push(t),
                        Entry::DeltaLink(l) => link = Some(l),
                    }
                }
                Ok((items, link))
            },
        )
        .await?;
    let link = link.ok_or_else(|| no_link(what, &inner.name))?;
    Ok((items, link))
}

fn no_link(what: &str, provider: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!("{what}: the last page has neither a next link nor a delta link"),
    )
    .with_provider(provider)
}

/// The complete assignment rows of the SSO app (empty without one), read
/// like every other listing.
async fn assigned(inner: &Arc<Inner>) -> Result<Vec<AssignedPrincipal>> {
    let Some(sp) = inner.service_principal_id.as_deref() else {
        return Ok(Vec::new());
    };
    let first = inner.assignments_url(sp);
    let what = "list the SSO app's assignments".to_string();
    list(inner.clone(), first, what, PERM_APPS, principal)
        .try_concat()
        .await
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

/// Expands assignment rows with the direct members of assigned groups
/// (directory-core's one expansion).
pub(crate) fn expand_assignments(
    rows: &[AssignedPrincipal],
    direct: &crate::apply::Direct<'_>,
) -> Vec<AppAssignment> {
    let grants = rows.iter().map(|r| {
        if r.is_group {
            AppGrant::Group {
                group_id: r.principal_id.clone(),
                role: r.role.clone(),
            }
        } else {
            AppGrant::User(AppAssignment {
                user_id: r.principal_id.clone(),
                via: AssignedVia::Direct,
                role: r.role.clone(),
            })
        }
    });
    expand_grants(grants, |group_id| {
        direct.get(group_id).into_iter().flatten().copied()
    })
}
