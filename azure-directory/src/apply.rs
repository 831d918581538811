//! Applying a delta to the previous snapshot: the new complete snapshot.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use directory_core::{
    resolve_nested, AppAssignment, Error, ErrorKind, Membership, MembershipKind, PreviousParts,
    PreviousSnapshot, Result, Snapshot,
};

use crate::delta::{expand_assignments, DeltaOutcome};

/// Group id to the ids of its direct user members.
pub(crate) type Direct<'a> = HashMap<&'a str, BTreeSet<&'a str>>;
type Nested = BTreeMap<String, BTreeSet<String>>;

impl DeltaOutcome {
    /// The new complete snapshot: `previous` with these changes applied, or
    /// the changes alone after a full round (then `previous` is ignored).
    ///
    /// Transitive memberships are recomputed from the direct ones and the
    /// nested-group edges in [`DeltaOutcome::state`], and assigned groups are
    /// expanded to their direct members, exactly as the full streams do.
    pub fn apply(&self, previous: Option<&Snapshot>) -> Result<Snapshot> {
        self.apply_to(previous.map(PreviousSnapshot::Lent))
    }

    /// [`DeltaOutcome::apply`] taking `previous` apart: the users and groups
    /// that did not change are moved into the new snapshot instead of
    /// copied, so applying holds one snapshot, not two.
    pub fn apply_owned(&self, previous: Option<Snapshot>) -> Result<Snapshot> {
        self.apply_to(previous.map(PreviousSnapshot::Given))
    }

    /// [`DeltaOutcome::apply`] on a previous snapshot lent or handed over.
    pub(crate) fn apply_to(&self, previous: Option<PreviousSnapshot<'_>>) -> Result<Snapshot> {
        let base = match (self.full_sync, previous) {
            (true, _) => None,
            (false, Some(p)) => Some(p),
            (false, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    "an incremental delta needs the snapshot made with the previous state; \
                     pass it, or start over with delta_sync(None)",
                ))
            }
        };
        let c = &self.changes;
        let unchanged = base.is_some() && c.is_empty();
        let (users, groups, memberships): PreviousParts<'_> = match base {
            Some(previous) => previous.into_parts(),
            None => (Cow::Borrowed(&[]), Cow::Borrowed(&[]), Cow::Borrowed(&[])),
        };
        if unchanged {
            let assignments = self.unchanged_assignments(&memberships);
            return Ok(Snapshot::from_parts(
                self.provider.clone(),
                users.into_owned(),
                groups.into_owned(),
                memberships.into_owned(),
                assignments,
            ));
        }
        let users = merge_by_id(users, &c.users_changed, &c.users_removed, |u| &u.id);
        let groups = merge_by_id(groups, &c.groups_changed, &c.groups_removed, |g| &g.id);
        let user_ids: HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
        let group_ids: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let direct = self.direct_members(&memberships, &user_ids, &group_ids);
        let memberships = with_transitive(&direct, &self.state.nested_groups, &group_ids);
        let assignments = expand_assignments(&c.assigned, &direct);
        drop((direct, user_ids, group_ids));
        Ok(Snapshot::from_parts(
            self.provider.clone(),
            users,
            groups,
            memberships,
            assignments,
        ))
    }

    /// The app's assignments of a round in which no user, group or
    /// membership changed (the previous lists are kept as they are; no
    /// group entry came, so the nested-group edges are the previous ones
    /// too): Graph always lists the assignments in full, and they are
    /// expanded from the previous direct members of just the assigned
    /// groups.
    fn unchanged_assignments(&self, memberships: &[Membership]) -> Vec<AppAssignment> {
        let assigned: HashSet<&str> = self
            .changes
            .assigned
            .iter()
            .filter(|r| r.is_group)
            .map(|r| r.principal_id.as_str())
            .collect();
        let mut direct: Direct<'_> = HashMap::new();
        let of_assigned = memberships
            .iter()
            .filter(|m| m.kind == MembershipKind::Direct && assigned.contains(m.group_id.as_str()));
        for m in of_assigned {
            direct
                .entry(m.group_id.as_str())
                .or_default()
                .insert(m.user_id.as_str());
        }
        expand_assignments(&self.changes.assigned, &direct)
    }

    /// Direct user members after the changes, limited to users and groups
    /// that still exist.
    fn direct_members<'a>(
        &'a self,
        base: &'a [Membership],
        users: &HashSet<&str>,
        groups: &HashSet<&str>,
    ) -> Direct<'a> {
        let mut direct: Direct<'a> = HashMap::new();
        let previous = base.iter().filter(|m| m.kind == MembershipKind::Direct);
        for m in previous {
            direct
                .entry(m.group_id.as_str())
                .or_default()
                .insert(m.user_id.as_str());
        }
        for (g, u) in &self.changes.members_removed {
            if let Some(set) = direct.get_mut(g.as_str()) {
                set.remove(u.as_str());
            }
        }
        for (g, u) in &self.changes.members_added {
            direct.entry(g.as_str()).or_default().insert(u.as_str());
        }
        direct.retain(|g, set| {
            set.retain(|u| users.contains(u));
            groups.contains(g) && !set.is_empty()
        });
        direct
    }
}

/// The previous items (moved when owned, copied when lent) less the
/// removed and changed ones, plus the changed ones (`Snapshot::from_parts`
/// sorts them again).
fn merge_by_id<T: Clone>(
    base: Cow<'_, [T]>,
    changed: &[T],
    removed: &[String],
    id: impl Fn(&T) -> &String,
) -> Vec<T> {
    let drop: HashSet<&str> = removed
        .iter()
        .map(String::as_str)
        .chain(changed.iter().map(|t| id(t).as_str()))
        .collect();
    let kept = |t: &T| !drop.contains(id(t).as_str());
    let mut out: Vec<T> = match base {
        Cow::Borrowed(items) => items.iter().filter(|t| kept(t)).cloned().collect(),
        Cow::Owned(items) => items.into_iter().filter(|t| kept(t)).collect(),
    };
    out.extend(changed.iter().filter(|t| !removed.contains(id(t))).cloned());
    out
}

/// Direct memberships plus, for each group, the users of groups nested in it
/// at any depth as `Transitive` (a user who is also a direct member stays
/// `Direct` only), by directory-core's one walk: each group visited once per
/// root, so cycles end. Nested groups that no longer exist are skipped.
pub(crate) fn with_transitive(
    direct: &Direct<'_>,
    nested: &Nested,
    groups: &HashSet<&str>,
) -> Vec<Membership> {
    let mut out = Vec::new();
    let mut push = |group_id: &str, user_id: &str, kind| {
        out.push(Membership {
            group_id: group_id.to_string(),
            user_id: user_id.to_string(),
            kind,
        })
    };
    for &gid in groups {
        if !nested.contains_key(gid) {
            // No nested groups: the direct members alone, without a walk.
            for u in direct.get(gid).into_iter().flatten() {
                push(gid, u, MembershipKind::Direct);
            }
            continue;
        }
        let members = |g: &str| {
            let children = nested.get(g).into_iter().flatten();
            (
                direct.get(g).into_iter().flatten().copied(),
                children.map(String::as_str).filter(|c| groups.contains(c)),
            )
        };
        for (user, kind) in resolve_nested(gid, members) {
            push(gid, user, kind);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(pairs: &[(&str, &str)]) -> Nested {
        let mut e = Nested::new();
        for (a, b) in pairs {
            e.entry(a.to_string()).or_default().insert(b.to_string());
        }
        e
    }

    #[test]
    fn transitive_members_resolve_and_cycles_end() {
        let groups: HashSet<&str> = ["a", "b", "c"].into_iter().collect();
        let mut direct: Direct = HashMap::new();
        for (g, u) in [("a", "u1"), ("b", "u2"), ("c", "u3"), ("c", "u1")] {
            direct.entry(g).or_default().insert(u);
        }
        let nested = edges(&[("a", "b"), ("b", "c"), ("c", "a")]);
        let mut m = with_transitive(&direct, &nested, &groups);
        m.sort();
        let of = |g: &str| {
            m.iter()
                .filter(|x| x.group_id == g)
                .map(|x| (x.user_id.as_str(), x.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            of("a"),
            vec![
                ("u1", MembershipKind::Direct),
                ("u2", MembershipKind::Transitive),
                ("u3", MembershipKind::Transitive)
            ]
        );
        assert_eq!(of("c").len(), 3);
    }
}
