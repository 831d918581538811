//! `Snapshot`: a complete, consistent copy of a directory, or nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::FutureExt;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub use self::close::Dropped;
use self::close::{find, Parts};

use crate::error::Result;
use crate::model::{
    AppAssignment, AppGrant, DirectoryGroup, DirectoryUser, Membership, MembershipKind,
};
use crate::provider::{DirectoryProvider, Pages};

mod close;

/// A complete copy of a directory at one point in time.
///
/// A `Snapshot` only comes into being when every stream (users, groups, every
/// group's members, app assignments) has finished without error: a page that
/// fails after the provider's retries fails the whole collection. A plan made
/// from a partial directory would deactivate the people on the missing pages.
///
/// Every constructor ([`Snapshot::collect`], [`Snapshot::from_parts`],
/// deserialization, [`Snapshot::normalized`]) ends in the same closing step,
/// which establishes these invariants:
///
/// * users and groups are sorted by id with no id twice (the last arrival of
///   an id wins); memberships and assignments are sorted by all their fields
///   without duplicates, so one directory always serializes its lists the
///   same way;
/// * the snapshot is closed: every membership and app assignment refers to a
///   listed user, and to a listed group where it names one. What was left
///   out to get there is counted in [`Snapshot::dropped`]; see [`Dropped`]
///   for what happens to each kind of reference.
///
/// Two snapshots of one directory are not `==`: `collected_at` differs (and
/// `provider` and `dropped` may). Compare contents with
/// [`Snapshot::same_directory`].
///
/// The fields are public for reading. [`Snapshot::user`] and
/// [`Snapshot::group`] binary-search the sorted lists: after changing the
/// lists directly, call [`Snapshot::normalized`] (or build a new snapshot
/// with [`Snapshot::from_parts`]) before looking anything up;
/// [`Snapshot::is_normalized`] tells whether the invariants still hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Snapshot {
    /// The provider it came from, as its `Display` names it.
    pub provider: String,
    /// When collection finished.
    pub collected_at: DateTime<Utc>,
    /// Every user, sorted by id.
    pub users: Vec<DirectoryUser>,
    /// Every group, sorted by id.
    pub groups: Vec<DirectoryGroup>,
    /// Every user-in-group membership, sorted.
    pub memberships: Vec<Membership>,
    /// Every user assigned to the SSO app, sorted.
    pub app_assignments: Vec<AppAssignment>,
    /// What closing left out: memberships and assignments that referred to
    /// users or groups the snapshot does not list. Report it; it is not part
    /// of the directory ([`Snapshot::same_directory`] ignores it).
    #[serde(skip_serializing_if = "Dropped::is_empty")]
    pub dropped: Dropped,
}

/// What a snapshot collection is fetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResourceKind {
    /// Users.
    Users,
    /// Groups.
    Groups,
    /// Group memberships.
    Memberships,
    /// App assignments.
    AppAssignments,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Users => "users",
            ResourceKind::Groups => "groups",
            ResourceKind::Memberships => "memberships",
            ResourceKind::AppAssignments => "app assignments",
        })
    }
}

/// A progress report: sent after every page and when a kind finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What is being fetched.
    pub kind: ResourceKind,
    /// Pages fetched so far for this kind.
    pub pages: u64,
    /// Items fetched so far for this kind.
    pub items: u64,
    /// For memberships: groups whose members are complete, and all groups.
    pub groups: Option<(u64, u64)>,
    /// Whether this kind is complete.
    pub finished: bool,
}

/// A progress callback. Called from the collecting task; keep it quick.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Options for [`Snapshot::collect`].
#[derive(Clone)]
pub struct CollectOptions {
    /// How many groups' members to fetch at once; `None` asks the provider
    /// ([`DirectoryProvider::member_concurrency`]).
    pub member_concurrency: Option<usize>,
    /// Whether to fetch the SSO app's assignments.
    pub app_assignments: bool,
    /// Called after every page.
    pub progress: Option<ProgressFn>,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self {
            member_concurrency: None,
            app_assignments: true,
            progress: None,
        }
    }
}

impl fmt::Debug for CollectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectOptions")
            .field("member_concurrency", &self.member_concurrency)
            .field("app_assignments", &self.app_assignments)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl CollectOptions {
    /// Sets a progress callback.
    pub fn with_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

/// Counts pages and items for one kind and reports them.
struct Tally {
    kind: ResourceKind,
    pages: AtomicU64,
    items: AtomicU64,
    groups_done: AtomicU64,
    groups_total: Option<u64>,
    progress: Option<ProgressFn>,
}

impl Tally {
    fn new(kind: ResourceKind, progress: &Option<ProgressFn>, groups_total: Option<u64>) -> Self {
        Self {
            kind,
            pages: AtomicU64::new(0),
            items: AtomicU64::new(0),
            groups_done: AtomicU64::new(0),
            groups_total,
            progress: progress.clone(),
        }
    }

    fn page(&self, items: usize) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items as u64, Ordering::Relaxed);
        self.report(false);
    }

    fn group_done(&self) {
        self.groups_done.fetch_add(1, Ordering::Relaxed);
        self.report(false);
    }

    fn report(&self, finished: bool) {
        if let Some(f) = &self.progress {
            f(&Progress {
                kind: self.kind,
                pages: self.pages.load(Ordering::Relaxed),
                items: self.items.load(Ordering::Relaxed),
                groups: self
                    .groups_total
                    .map(|t| (self.groups_done.load(Ordering::Relaxed), t)),
                finished,
            });
        }
    }
}

/// Drains a page stream into one vector, reporting each page.
async fn drain<T>(mut pages: Pages<T>, tally: &Tally, out: &mut Vec<T>) -> Result<()> {
    while let Some(page) = pages.next().await {
        let page = page?;
        tally.page(page.len());
        out.extend(page);
    }
    Ok(())
}

async fn collect_kind<T>(
    pages: Pages<T>,
    kind: ResourceKind,
    opts: &CollectOptions,
) -> Result<Vec<T>> {
    let tally = Tally::new(kind, &opts.progress, None);
    let mut out = Vec::new();
    drain(pages, &tally, &mut out).await?;
    tally.report(true);
    Ok(out)
}

impl Snapshot {
    /// Collects a complete snapshot from `provider`.
    ///
    /// Users, groups and app assignments are fetched at the same time; each
    /// group's members are fetched as soon as the groups are known, at most
    /// `member_concurrency` groups at once. The first error from any stream
    /// ends the collection and is returned: no snapshot is made.
    ///
    /// The result is closed (see [`Snapshot`] and [`Dropped`]): memberships
    /// and assignments of users the user list does not hold are dropped and
    /// counted in [`Snapshot::dropped`]. A membership of a group the group
    /// list does not hold fails the collection with
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse):
    /// members are read per listed group, so it means the group list and the
    /// member reads disagree, and dropping it could hide an incomplete list.
    pub async fn collect<P: DirectoryProvider + ?Sized>(
        provider: &P,
        opts: &CollectOptions,
    ) -> Result<Snapshot> {
        let users = collect_kind(provider.users(), ResourceKind::Users, opts);
        let groups_and_members = async {
            let groups = collect_kind(provider.groups(), ResourceKind::Groups, opts).await?;
            let members = collect_members(provider, &groups, opts).await?;
            Ok((groups, members))
        };
        let grants = if opts.app_assignments {
            provider.app_grants()
        } else {
            None
        };
        let assignments = async {
            match grants {
                _ if !opts.app_assignments => Ok(Assigned::Users(Vec::new())),
                Some(pages) => {
                    let tally = Tally::new(ResourceKind::AppAssignments, &opts.progress, None);
                    let mut rows = Vec::new();
                    drain(pages, &tally, &mut rows).await?;
                    Ok(Assigned::Grants(rows, tally))
                }
                None => collect_kind(
                    provider.app_assignments(),
                    ResourceKind::AppAssignments,
                    opts,
                )
                .await
                .map(Assigned::Users),
            }
        };
        let (users, (groups, memberships), assigned) =
            futures::try_join!(users, groups_and_members, assignments)?;
        let app_assignments = match assigned {
            Assigned::Users(users) => users,
            Assigned::Grants(rows, tally) => {
                let expanded = expand_grants(provider, rows, &groups, &memberships).await?;
                // The last report counts assigned users, not the rows read.
                tally.items.store(expanded.len() as u64, Ordering::Relaxed);
                tally.report(true);
                expanded
            }
        };
        let parts = Parts {
            provider: provider.to_string(),
            collected_at: Utc::now(),
            users,
            groups,
            memberships,
            app_assignments,
            dropped: Dropped::default(),
        };
        parts.close().refuse_unlisted_groups()
    }

    /// Builds a snapshot from parts and closes it (see [`Snapshot`]): sorted,
    /// de-duplicated (where a user or group id appears twice, the last one
    /// wins), and every membership and assignment that refers to a user or
    /// group not listed is dropped or loses its group, as [`Dropped`]
    /// describes and counts in [`Snapshot::dropped`].
    ///
    /// Unlike [`Snapshot::collect`] this never fails: memberships of groups
    /// not listed are dropped and counted in
    /// [`Dropped::memberships_of_unlisted_groups`]; check it where such a
    /// membership would mean the parts are incomplete.
    pub fn from_parts(
        provider: impl Into<String>,
        users: Vec<DirectoryUser>,
        groups: Vec<DirectoryGroup>,
        memberships: Vec<Membership>,
        app_assignments: Vec<AppAssignment>,
    ) -> Snapshot {
        let parts = Parts {
            provider: provider.into(),
            collected_at: Utc::now(),
            users,
            groups,
            memberships,
            app_assignments,
            dropped: Dropped::default(),
        };
        parts.close().snapshot
    }

    /// Whether the directory has no users at all.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Finds a user by id (a binary search of the sorted users; see
    /// [`Snapshot`] about changing the lists directly).
    pub fn user(&self, id: &str) -> Option<&DirectoryUser> {
        find(&self.users, id, |u| &u.id)
    }

    /// Finds a group by id (a binary search of the sorted groups).
    pub fn group(&self, id: &str) -> Option<&DirectoryGroup> {
        find(&self.groups, id, |g| &g.id)
    }

    /// Whether the two snapshots hold the same directory: the same users,
    /// groups, memberships and assignments, whenever and from whichever
    /// provider they were collected, and whatever closing dropped. Use it
    /// rather than `==`, which compares `collected_at` too.
    pub fn same_directory(&self, other: &Snapshot) -> bool {
        self.users == other.users
            && self.groups == other.groups
            && self.memberships == other.memberships
            && self.app_assignments == other.app_assignments
    }
}

/// The app's assignments as read: expanded by the provider, or as grants
/// still to expand.
enum Assigned {
    Users(Vec<AppAssignment>),
    Grants(Vec<AppGrant>, Tally),
}

/// Expands assigned groups into their direct user members, from the
/// memberships already collected. A group that was not listed (assigned,
/// but created after the group list was read, or outside it) is read with
/// [`DirectoryProvider::group_members`], once.
async fn expand_grants<P: DirectoryProvider + ?Sized>(
    provider: &P,
    grants: Vec<AppGrant>,
    groups: &[DirectoryGroup],
    memberships: &[Membership],
) -> Result<Vec<AppAssignment>> {
    let assigned: HashSet<String> = grants
        .iter()
        .filter_map(|g| match g {
            AppGrant::Group { group_id, .. } => Some(group_id.clone()),
            AppGrant::User(_) => None,
        })
        .collect();
    if assigned.is_empty() {
        return Ok(grants
            .into_iter()
            .filter_map(|g| match g {
                AppGrant::User(a) => Some(a),
                AppGrant::Group { .. } => None,
            })
            .collect());
    }
    let listed: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let mut read: HashMap<&str, Vec<String>> = HashMap::new();
    for group_id in assigned.iter().filter(|g| !listed.contains(g.as_str())) {
        let members = provider.group_members(group_id).try_concat().await?;
        let direct = members
            .into_iter()
            .filter(|m| m.kind == MembershipKind::Direct)
            .map(|m| m.user_id)
            .collect();
        read.insert(group_id.as_str(), direct);
    }
    let mut direct: HashMap<&str, Vec<&str>> = HashMap::new();
    for m in memberships {
        if m.kind == MembershipKind::Direct && assigned.contains(m.group_id.as_str()) {
            direct
                .entry(m.group_id.as_str())
                .or_default()
                .push(m.user_id.as_str());
        }
    }
    for (group_id, users) in &read {
        direct.insert(group_id, users.iter().map(String::as_str).collect());
    }
    Ok(crate::nesting::expand_grants(grants, |group_id| {
        direct.get(group_id).cloned().unwrap_or_default()
    }))
}

async fn collect_members<P: DirectoryProvider + ?Sized>(
    provider: &P,
    groups: &[DirectoryGroup],
    opts: &CollectOptions,
) -> Result<Vec<Membership>> {
    if let Some(mut pages) = provider.memberships(groups.iter().map(|g| g.id.clone()).collect()) {
        let tally = Tally::new(ResourceKind::Memberships, &opts.progress, None);
        // Kept page by page and joined once at the end into a list of the
        // exact size: a list grown by doubling ends up to half empty.
        let mut kept = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page?;
            tally.page(page.len());
            kept.push(page);
        }
        drop(pages);
        tally.report(true);
        return Ok(concat_exact(kept));
    }
    let concurrency = opts
        .member_concurrency
        .unwrap_or_else(|| provider.member_concurrency())
        .max(1);
    let tally = Tally::new(
        ResourceKind::Memberships,
        &opts.progress,
        Some(groups.len() as u64),
    );
    let tally = &tally;
    // A plain loop, not a closure: closures here trip the compiler's
    // higher-ranked lifetime check when the caller needs a `Send` future.
    let mut fetches = Vec::with_capacity(groups.len());
    for g in groups {
        fetches.push(drain_group(provider.group_members(&g.id), tally).boxed());
    }
    let per_group: Vec<Vec<Membership>> = stream::iter(fetches)
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    tally.report(true);
    Ok(concat_exact(per_group))
}

/// Joins lists into one allocation of the exact size (collecting a
/// flattened iterator would grow by doubling while every part is alive),
/// freeing each part as it is moved.
fn concat_exact<T>(parts: Vec<Vec<T>>) -> Vec<T> {
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend(part);
    }
    all
}

async fn drain_group(pages: Pages<Membership>, tally: &Tally) -> Result<Vec<Membership>> {
    let mut out = Vec::new();
    drain(pages, tally, &mut out).await?;
    tally.group_done();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_keep_the_last_arrival_and_lists_are_sorted() {
        let mut late = DirectoryUser::new("b", "b-new");
        late.title = Some("late".into());
        let users = vec![
            DirectoryUser::new("c", "c"),
            DirectoryUser::new("b", "b-old"),
            DirectoryUser::new("a", "a"),
            late.clone(),
        ];
        let s = Snapshot::from_parts("t", users, vec![], vec![], vec![]);
        let ids: Vec<&str> = s.users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(s.user("b"), Some(&late));
    }
}
