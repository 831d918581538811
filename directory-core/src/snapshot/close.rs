//! Closing a snapshot: the one step every constructor of [`Snapshot`] ends
//! in ([`Snapshot::collect`], [`Snapshot::from_parts`], deserialization and
//! [`Snapshot::normalized`]).
//!
//! Closing sorts users and groups by id (the last arrival of an id wins),
//! sorts and de-duplicates memberships and app assignments, and makes every
//! membership and assignment refer to a listed user and group. What it left
//! out is counted in [`Dropped`].

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::Snapshot;
use crate::error::{Error, Result};
use crate::model::{AppAssignment, AssignedVia, DirectoryGroup, DirectoryUser, Membership};

/// What closing a snapshot left out: references to users or groups the
/// snapshot does not list.
///
/// A user who is not listed is not in the directory (Okta lists deactivated
/// users among a group's members and the app's users even when the user list
/// leaves them out; a user created after the user list was read shows up in
/// the next sync), so the memberships and assignments naming one are
/// dropped. An app assignment through a group that is not listed keeps the
/// user (they are assigned) but not the group: its `via` becomes
/// `AssignedVia::Group { group_id: None }`.
///
/// A membership of a group that is not listed is different: every group's
/// members are read from the group list, so such a membership means the list
/// and the member reads disagree, and the group list may be incomplete.
/// [`Snapshot::collect`] and deserialization refuse it with an error;
/// [`Snapshot::from_parts`] and [`Snapshot::normalized`] drop and count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Dropped {
    /// Memberships dropped because their user is not listed.
    #[serde(default)]
    pub memberships_of_unlisted_users: u64,
    /// App assignments dropped because their user is not listed.
    #[serde(default)]
    pub assignments_of_unlisted_users: u64,
    /// App assignments kept without their group's id, because the group
    /// through which the user is assigned is not listed.
    #[serde(default)]
    pub assignment_groups_unlisted: u64,
    /// Memberships dropped because their group is not listed (only
    /// [`Snapshot::from_parts`] and [`Snapshot::normalized`] get this far).
    #[serde(default)]
    pub memberships_of_unlisted_groups: u64,
}

impl Dropped {
    /// Whether closing left nothing out.
    pub fn is_empty(&self) -> bool {
        *self == Dropped::default()
    }

    /// Everything counted, summed.
    pub fn total(&self) -> u64 {
        self.memberships_of_unlisted_users
            + self.assignments_of_unlisted_users
            + self.assignment_groups_unlisted
            + self.memberships_of_unlisted_groups
    }
}

/// The contents of a snapshot before closing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Parts {
    pub(super) provider: String,
    pub(super) collected_at: DateTime<Utc>,
    pub(super) users: Vec<DirectoryUser>,
    pub(super) groups: Vec<DirectoryGroup>,
    pub(super) memberships: Vec<Membership>,
    pub(super) app_assignments: Vec<AppAssignment>,
    /// What an earlier closing dropped (kept through a JSON round trip).
    #[serde(default)]
    pub(super) dropped: Dropped,
}

/// A closed snapshot and the ids of the unlisted groups its memberships
/// named (sorted, each once; the caller decides whether that is an error).
pub(super) struct Closed {
    pub(super) snapshot: Snapshot,
    pub(super) unlisted_groups: BTreeSet<String>,
}

impl Closed {
    /// The snapshot, or an error naming the unlisted groups memberships
    /// referred to: for paths that must not hide an incomplete group list.
    pub(super) fn refuse_unlisted_groups(self) -> Result<Snapshot> {
        if self.unlisted_groups.is_empty() {
            return Ok(self.snapshot);
        }
        Err(unlisted_groups_error(&self.snapshot, &self.unlisted_groups))
    }
}

fn unlisted_groups_error(snapshot: &Snapshot, groups: &BTreeSet<String>) -> Error {
    const SHOWN: usize = 5;
    let mut named: Vec<&str> = groups.iter().take(SHOWN).map(String::as_str).collect();
    if groups.len() > SHOWN {
        named.push("...");
    }
    Error::invalid_response(format!(
        "memberships name {} group(s) the group list does not hold ({}): the group list \
         may be incomplete, so no snapshot was made; collect again, and report it if it \
         persists",
        groups.len(),
        named.join(", ")
    ))
    .with_provider(&snapshot.provider)
}

impl Parts {
    /// Sorts, de-duplicates and closes the parts into a snapshot.
    pub(super) fn close(self) -> Closed {
        let users = dedup_by_id(self.users, |u| &u.id);
        let groups = dedup_by_id(self.groups, |g| &g.id);
        let mut dropped = self.dropped;
        let mut unlisted_groups = BTreeSet::new();
        let memberships = close_memberships(
            self.memberships,
            &users,
            &groups,
            &mut dropped,
            &mut unlisted_groups,
        );
        let app_assignments =
            close_assignments(self.app_assignments, &users, &groups, &mut dropped);
        let snapshot = Snapshot {
            provider: self.provider,
            collected_at: self.collected_at,
            users,
            groups,
            memberships,
            app_assignments,
            dropped,
        };
        Closed {
            snapshot,
            unlisted_groups,
        }
    }
}

fn close_memberships(
    mut memberships: Vec<Membership>,
    users: &[DirectoryUser],
    groups: &[DirectoryGroup],
    dropped: &mut Dropped,
    unlisted_groups: &mut BTreeSet<String>,
) -> Vec<Membership> {
    memberships.retain(|m| {
        if !is_listed(groups, &m.group_id, |g| &g.id) {
            dropped.memberships_of_unlisted_groups += 1;
            unlisted_groups.insert(m.group_id.clone());
            false
        } else if !is_listed(users, &m.user_id, |u| &u.id) {
            dropped.memberships_of_unlisted_users += 1;
            false
        } else {
            true
        }
    });
    memberships.sort_unstable();
    memberships.dedup();
    memberships
}

fn close_assignments(
    mut assignments: Vec<AppAssignment>,
    users: &[DirectoryUser],
    groups: &[DirectoryGroup],
    dropped: &mut Dropped,
) -> Vec<AppAssignment> {
    assignments.retain_mut(|a| {
        if !is_listed(users, &a.user_id, |u| &u.id) {
            dropped.assignments_of_unlisted_users += 1;
            return false;
        }
        if let AssignedVia::Group { group_id } = &mut a.via {
            if group_id
                .as_ref()
                .is_some_and(|g| !is_listed(groups, g, |g| &g.id))
            {
                dropped.assignment_groups_unlisted += 1;
                *group_id = None;
            }
        }
        true
    });
    assignments.sort_unstable();
    assignments.dedup();
    assignments
}

/// Whether `sorted` (by `id`) holds an item with this id.
fn is_listed<T>(sorted: &[T], id: &str, key: impl Fn(&T) -> &String) -> bool {
    sorted.binary_search_by(|t| key(t).as_str().cmp(id)).is_ok()
}

/// Finds an item in a list sorted by `key`.
pub(super) fn find<'a, T>(sorted: &'a [T], id: &str, key: impl Fn(&T) -> &String) -> Option<&'a T> {
    let i = sorted.binary_search_by(|t| key(t).as_str().cmp(id)).ok()?;
    sorted.get(i)
}

/// Keeps the last arrival of each id and sorts by id.
fn dedup_by_id<T>(mut items: Vec<T>, id: impl Fn(&T) -> &String) -> Vec<T> {
    // Duplicates are dropped first (an index of ids, a few bytes per item),
    // then the unique items are sorted in place: a stable sort of the items
    // themselves would borrow scratch space of half the list, 34 MiB for
    // 100,000 users.
    let mut keep = vec![true; items.len()];
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let earlier = last.insert(id(item).as_str(), i);
        if let Some(slot) = earlier.and_then(|e| keep.get_mut(e)) {
            *slot = false;
        }
    }
    drop(last);
    let mut keep = keep.into_iter();
    items.retain(|_| keep.next().unwrap_or(true));
    items.sort_unstable_by(|a, b| id(a).cmp(id(b)));
    items
}

/// Whether the list is sorted by `key` with no id twice.
pub(super) fn strictly_sorted<T>(items: &[T], key: impl Fn(&T) -> &String) -> bool {
    items
        .windows(2)
        .all(|w| matches!(w, [a, b] if key(a) < key(b)))
}

/// Whether the list is sorted with no item twice.
fn strictly_ordered<T: Ord>(items: &[T]) -> bool {
    items.windows(2).all(|w| matches!(w, [a, b] if a < b))
}

/// A snapshot read from JSON is closed like a collected one: lists in any
/// order or with duplicates give the same snapshot, and references to
/// unlisted users are dropped and counted in [`Snapshot::dropped`]. A
/// membership of a group the JSON does not list is refused: the JSON is not
/// of a complete snapshot.
impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Parts::deserialize(deserializer)?
            .close()
            .refuse_unlisted_groups()
            .map_err(serde::de::Error::custom)
    }
}

impl Snapshot {
    /// The snapshot sorted, de-duplicated and closed again, for after its
    /// public lists were changed directly: [`Snapshot::user`] and
    /// [`Snapshot::group`] rely on the order, and reconcile on the closure.
    /// Keeps `provider` and `collected_at`; what it drops is added to
    /// [`Snapshot::dropped`] (memberships of unlisted groups included).
    pub fn normalized(self) -> Snapshot {
        let parts = Parts {
            provider: self.provider,
            collected_at: self.collected_at,
            users: self.users,
            groups: self.groups,
            memberships: self.memberships,
            app_assignments: self.app_assignments,
            dropped: self.dropped,
        };
        parts.close().snapshot
    }

    /// Whether the lists hold the invariants every constructor establishes:
    /// users and groups sorted by id with no id twice, memberships and
    /// assignments sorted without duplicates, and each of them referring to
    /// a listed user and group. Cheap enough for a debug assertion; false
    /// after the public lists were changed carelessly.
    pub fn is_normalized(&self) -> bool {
        strictly_sorted(&self.users, |u| &u.id)
            && strictly_sorted(&self.groups, |g| &g.id)
            && strictly_ordered(&self.memberships)
            && strictly_ordered(&self.app_assignments)
            && self.memberships.iter().all(|m| self.refers_to_listed(m))
            && self
                .app_assignments
                .iter()
                .all(|a| self.assignment_is_listed(a))
    }

    fn refers_to_listed(&self, m: &Membership) -> bool {
        self.user(&m.user_id).is_some() && self.group(&m.group_id).is_some()
    }

    fn assignment_is_listed(&self, a: &AppAssignment) -> bool {
        let group_listed = match &a.via {
            AssignedVia::Group { group_id: Some(g) } => self.group(g).is_some(),
            _ => true,
        };
        self.user(&a.user_id).is_some() && group_listed
    }
}
