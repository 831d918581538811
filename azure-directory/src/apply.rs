//! Applying a delta to the previous snapshot: the new complete snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use directory_core::{
    resolve_nested, DirectoryGroup, DirectoryUser, Error, ErrorKind, Membership, MembershipKind,
    Result, Snapshot,
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
        if let (Some(base), true) = (base, c.is_empty()) {
            return Ok(self.unchanged(base));
        }
        let users = merge_by_id(
            base.map(|s| s.users.as_slice()),
            &c.users_changed,
            &c.users_removed,
            |u: &DirectoryUser| &u.id,
        );
        let groups = merge_by_id(
            base.map(|s| s.groups.as_slice()),
            &c.groups_changed,
            &c.groups_removed,
            |g: &DirectoryGroup| &g.id,
        );
        let user_ids: HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
        let group_ids: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let direct = self.direct_members(base, &user_ids, &group_ids);
        let memberships = with_transitive(&direct, &self.state.nested_groups, &group_ids);
        let assignments = expand_assignments(&c.assigned, &direct);
        Ok(Snapshot::from_parts(
            self.provider.clone(),
            users,
            groups,
            memberships,
            assignments,
        ))
    }

    /// The snapshot of a round in which no user, group or membership
    /// changed: the previous lists as they are (no group entry came, so the
    /// nested-group edges are the previous ones too), with the app's
    /// assignments, which Graph always lists in full, expanded from the
    /// previous direct members of just the assigned groups.
    fn unchanged(&self, base: &Snapshot) -> Snapshot {
        let assigned: HashSet<&str> = self
            .changes
            .assigned
            .iter()
            .filter(|r| r.is_group)
            .map(|r| r.principal_id.as_str())
            .collect();
        let mut direct: Direct<'_> = HashMap::new();
        let of_assigned = base
            .memberships
            .iter()
            .filter(|m| m.kind == MembershipKind::Direct && assigned.contains(m.group_id.as_str()));
        for m in of_assigned {
            direct
                .entry(m.group_id.as_str())
                .or_default()
                .insert(m.user_id.as_str());
        }
        Snapshot::from_parts(
            self.provider.clone(),
            base.users.clone(),
            base.groups.clone(),
            base.memberships.clone(),
            expand_assignments(&self.changes.assigned, &direct),
        )
    }

    /// Direct user members after the changes, limited to users and groups
    /// that still exist.
    fn direct_members<'a>(
        &'a self,
        base: Option<&'a Snapshot>,
        users: &HashSet<&str>,
        groups: &HashSet<&str>,
    ) -> Direct<'a> {
        let mut direct: Direct<'a> = HashMap::new();
        let previous = base
            .into_iter()
            .flat_map(|s| s.memberships.iter())
            .filter(|m| m.kind == MembershipKind::Direct);
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

/// The previous items less the removed and changed ones, plus the changed
/// ones (`Snapshot::from_parts` sorts them again).
fn merge_by_id<T: Clone>(
    base: Option<&[T]>,
    changed: &[T],
    removed: &[String],
    id: impl Fn(&T) -> &String,
) -> Vec<T> {
    let drop: HashSet<&str> = removed
        .iter()
        .map(String::as_str)
        .chain(changed.iter().map(|t| id(t).as_str()))
        .collect();
    let mut out: Vec<T> = base
        .into_iter()
        .flatten()
        .filter(|t| !drop.contains(id(t).as_str()))
        .cloned()
        .collect();
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
