//! Applying a delta to the previous snapshot: the new complete snapshot.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use directory_core::{
    DirectoryGroup, DirectoryUser, Error, ErrorKind, Membership, MembershipKind, Result, Snapshot,
};

use crate::delta::{expand_assignments, DeltaOutcome};

type Edges = BTreeMap<String, BTreeSet<String>>;

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
        let users = merge_by_id(
            base.map(|s| s.users.as_slice()),
            &self.changes.users_changed,
            &self.changes.users_removed,
            |u: &DirectoryUser| &u.id,
        );
        let groups = merge_by_id(
            base.map(|s| s.groups.as_slice()),
            &self.changes.groups_changed,
            &self.changes.groups_removed,
            |g: &DirectoryGroup| &g.id,
        );
        let direct = self.direct_members(base, &users, &groups);
        let memberships = with_transitive(&direct, &self.state.nested_groups, &groups);
        let assignments = expand_assignments(&self.changes.assigned, &direct);
        Ok(Snapshot::from_parts(
            self.provider.clone(),
            users.into_values().collect(),
            groups.into_values().collect(),
            memberships,
            assignments,
        ))
    }

    /// Group id to direct user member ids, after the changes, limited to
    /// users and groups that still exist.
    fn direct_members(
        &self,
        base: Option<&Snapshot>,
        users: &BTreeMap<String, DirectoryUser>,
        groups: &BTreeMap<String, DirectoryGroup>,
    ) -> Edges {
        let mut direct: Edges = BTreeMap::new();
        let previous = base
            .into_iter()
            .flat_map(|s| s.memberships.iter())
            .filter(|m| m.kind == MembershipKind::Direct);
        for m in previous {
            direct
                .entry(m.group_id.clone())
                .or_default()
                .insert(m.user_id.clone());
        }
        for (g, u) in &self.changes.members_removed {
            if let Some(set) = direct.get_mut(g) {
                set.remove(u);
            }
        }
        for (g, u) in &self.changes.members_added {
            direct.entry(g.clone()).or_default().insert(u.clone());
        }
        direct.retain(|g, set| {
            set.retain(|u| users.contains_key(u));
            groups.contains_key(g) && !set.is_empty()
        });
        direct
    }
}

fn merge_by_id<T: Clone>(
    base: Option<&[T]>,
    changed: &[T],
    removed: &[String],
    id: impl Fn(&T) -> &String,
) -> BTreeMap<String, T> {
    let mut map: BTreeMap<String, T> = base
        .into_iter()
        .flatten()
        .map(|t| (id(t).clone(), t.clone()))
        .collect();
    for r in removed {
        map.remove(r);
    }
    for t in changed {
        map.insert(id(t).clone(), t.clone());
    }
    map
}

/// Direct memberships plus, for each group, the users of groups nested in it
/// at any depth as `Transitive` (a user who is also a direct member stays
/// `Direct` only). Cycles end: each group is visited once per root.
pub(crate) fn with_transitive(
    direct: &Edges,
    nested: &Edges,
    groups: &BTreeMap<String, DirectoryGroup>,
) -> Vec<Membership> {
    let mut out = Vec::new();
    for gid in groups.keys() {
        let own = direct.get(gid);
        for u in own.into_iter().flatten() {
            out.push(Membership {
                group_id: gid.clone(),
                user_id: u.clone(),
                kind: MembershipKind::Direct,
            });
        }
        let mut seen_groups = BTreeSet::from([gid.clone()]);
        let mut seen_users: BTreeSet<&String> = own.into_iter().flatten().collect();
        let mut queue: VecDeque<&String> = nested.get(gid).into_iter().flatten().collect();
        while let Some(child) = queue.pop_front() {
            if !seen_groups.insert(child.clone()) || !groups.contains_key(child) {
                continue;
            }
            for u in direct.get(child).into_iter().flatten() {
                if seen_users.insert(u) {
                    out.push(Membership {
                        group_id: gid.clone(),
                        user_id: u.clone(),
                        kind: MembershipKind::Transitive,
                    });
                }
            }
            queue.extend(nested.get(child).into_iter().flatten());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(pairs: &[(&str, &str)]) -> Edges {
        let mut e = Edges::new();
        for (a, b) in pairs {
            e.entry(a.to_string()).or_default().insert(b.to_string());
        }
        e
    }

    #[test]
    fn transitive_members_resolve_and_cycles_end() {
        let groups: BTreeMap<String, DirectoryGroup> = ["a", "b", "c"]
            .iter()
            .map(|g| (g.to_string(), DirectoryGroup::new(*g, *g)))
            .collect();
        let direct = edges(&[("a", "u1"), ("b", "u2"), ("c", "u3"), ("c", "u1")]);
        let nested = edges(&[("a", "b"), ("b", "c"), ("c", "a")]);
        let m = with_transitive(&direct, &nested, &groups);
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
