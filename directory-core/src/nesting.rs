//! Nested groups resolved into user memberships, and app grants expanded
//! into assigned users: written once here for every provider.
//!
//! The rules, the same wherever a directory's groups come from:
//!
//! * **Direct wins.** A group's own user members are
//!   [`MembershipKind::Direct`]; users reached only through groups nested in
//!   it (at any depth) are [`MembershipKind::Transitive`]. A user who is both
//!   is a direct member only.
//! * **Each group once, cycles end.** A nested group is read once per walk
//!   however many paths lead to it, so a membership cycle (`a` in `b` in
//!   `a`) ends, and a diamond does not list its users twice.
//! * **Each user once.** A user is listed once per root group.
//! * **App grants are not inherited through nesting.** An app assigned to a
//!   group is assigned to the group's direct user members, with the grant's
//!   role (Entra and Okta both work this way).

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

use crate::model::{AppAssignment, AppGrant, AssignedVia, MembershipKind};

/// The state of one group's nesting walk, breadth first from the root.
///
/// For providers that read members asynchronously (page by page over HTTP,
/// or from a store): take the next group with [`NestingWalk::next_group`],
/// report each user member with [`NestingWalk::user`] and each nested group
/// with [`NestingWalk::nested_group`], until `next_group` says `None`. Where
/// every group's members are at hand, [`resolve_nested`] runs the whole walk.
///
/// `K` is the id type: `String`, or `&str` where the ids are borrowed.
#[derive(Debug, Clone)]
pub struct NestingWalk<K> {
    queue: VecDeque<K>,
    visited: HashSet<K>,
    users: HashSet<K>,
    /// The kind of the users of the group being read.
    kind: MembershipKind,
    started: bool,
}

impl<K: Eq + Hash + Clone> NestingWalk<K> {
    /// A walk of `root`'s members.
    pub fn new(root: K) -> Self {
        Self {
            visited: HashSet::from([root.clone()]),
            queue: VecDeque::from([root]),
            users: HashSet::new(),
            kind: MembershipKind::Direct,
            started: false,
        }
    }

    /// The next group whose members to read, and the kind its users get:
    /// the root first ([`MembershipKind::Direct`]), then every nested group
    /// once ([`MembershipKind::Transitive`]). `None` when the walk is done.
    pub fn next_group(&mut self) -> Option<(K, MembershipKind)> {
        let group = self.queue.pop_front()?;
        self.kind = if self.started {
            MembershipKind::Transitive
        } else {
            MembershipKind::Direct
        };
        self.started = true;
        Some((group, self.kind))
    }

    /// A user member of the group being read: the kind of its membership
    /// of the root, or `None` when the user is already a member (a direct
    /// member met again through a nested group, or a user met twice).
    pub fn user(&mut self, id: K) -> Option<MembershipKind> {
        self.users.insert(id).then_some(self.kind)
    }

    /// A group nested in the group being read: read later, once.
    pub fn nested_group(&mut self, id: K) {
        if self.visited.insert(id.clone()) {
            self.queue.push_back(id);
        }
    }
}

/// Every user member of `root`, nested groups resolved: each user once, with
/// its kind (see the [module rules](self)), in the order the walk meets them
/// (the root's own users first).
///
/// `members(group)` gives a group's direct user members and the groups
/// directly nested in it (empty for a group it does not know).
pub fn resolve_nested<'a, U, G>(
    root: &'a str,
    mut members: impl FnMut(&'a str) -> (U, G),
) -> Vec<(&'a str, MembershipKind)>
where
    U: IntoIterator<Item = &'a str>,
    G: IntoIterator<Item = &'a str>,
{
    let mut walk = NestingWalk::new(root);
    let mut out = Vec::new();
    while let Some((group, _)) = walk.next_group() {
        let (users, groups) = members(group);
        for user in users {
            if let Some(kind) = walk.user(user) {
                out.push((user, kind));
            }
        }
        for nested in groups {
            walk.nested_group(nested);
        }
    }
    out
}

/// The assignments of an app granted to `group_id` with `role`: one for each
/// of `members`, the group's direct user members.
pub fn group_grant_assignments<'a, U: Into<String>>(
    group_id: &'a str,
    role: &'a Option<String>,
    members: impl IntoIterator<Item = U> + 'a,
) -> impl Iterator<Item = AppAssignment> + 'a {
    members.into_iter().map(move |user| AppAssignment {
        user_id: user.into(),
        via: AssignedVia::Group {
            group_id: Some(group_id.to_string()),
        },
        role: role.clone(),
    })
}

/// App grants expanded into assignments: a user grant as it is, a group
/// grant into one assignment per direct user member, which
/// `direct_members(group_id)` gives (empty for a group it does not know).
pub fn expand_grants<I, U>(
    grants: impl IntoIterator<Item = AppGrant>,
    mut direct_members: impl FnMut(&str) -> I,
) -> Vec<AppAssignment>
where
    I: IntoIterator<Item = U>,
    U: Into<String>,
{
    let mut out = Vec::new();
    for grant in grants {
        match grant {
            AppGrant::User(a) => out.push(a),
            AppGrant::Group { group_id, role } => out.extend(group_grant_assignments(
                &group_id,
                &role,
                direct_members(&group_id),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use MembershipKind::{Direct, Transitive};

    /// A directory of groups: group -> (direct users, nested groups).
    type Groups = BTreeMap<&'static str, (Vec<&'static str>, Vec<&'static str>)>;

    fn dir(rows: &[(&'static str, &[&'static str], &[&'static str])]) -> Groups {
        rows.iter()
            .map(|(g, u, n)| (*g, (u.to_vec(), n.to_vec())))
            .collect()
    }

    fn resolve(d: &Groups, root: &'static str) -> Vec<(&'static str, MembershipKind)> {
        let mut calls = BTreeMap::<&str, u32>::new();
        let mut out = resolve_nested(root, |g| {
            *calls.entry(g).or_default() += 1;
            let (u, n) = d.get(g).cloned().unwrap_or_default();
            (u, n)
        });
        assert!(
            calls.values().all(|c| *c == 1),
            "a group read twice: {calls:?}"
        );
        out.sort();
        out
    }

    #[test]
    fn cycles_end_and_every_group_is_read_once() {
        let d = dir(&[
            ("a", &["u1"], &["b"]),
            ("b", &["u2"], &["c"]),
            ("c", &["u3", "u1"], &["a"]),
        ]);
        assert_eq!(
            resolve(&d, "a"),
            [("u1", Direct), ("u2", Transitive), ("u3", Transitive)]
        );
        assert_eq!(
            resolve(&d, "c"),
            [("u1", Direct), ("u2", Transitive), ("u3", Direct)]
        );
        let self_loop = dir(&[("a", &["u1"], &["a", "a"])]);
        assert_eq!(resolve(&self_loop, "a"), [("u1", Direct)]);
    }

    #[test]
    fn a_diamond_lists_its_users_once() {
        let d = dir(&[
            ("top", &[], &["left", "right"]),
            ("left", &["u1"], &["bottom"]),
            ("right", &["u2"], &["bottom"]),
            ("bottom", &["u3", "u3"], &[]),
        ]);
        assert_eq!(
            resolve(&d, "top"),
            [("u1", Transitive), ("u2", Transitive), ("u3", Transitive)]
        );
    }

    #[test]
    fn a_direct_member_stays_direct_whatever_the_order_it_is_met_in() {
        // u1 is in the nested group too, and listed there first.
        let d = dir(&[
            ("a", &["u2", "u1", "u1"], &["b"]),
            ("b", &["u1", "u3"], &[]),
        ]);
        assert_eq!(
            resolve(&d, "a"),
            [("u1", Direct), ("u2", Direct), ("u3", Transitive)]
        );
    }

    #[test]
    fn unknown_groups_are_empty() {
        let d = dir(&[("a", &["u1"], &["gone"])]);
        assert_eq!(resolve(&d, "a"), [("u1", Direct)]);
        assert_eq!(resolve(&d, "nowhere"), []);
    }

    #[test]
    fn the_walk_by_hand_gives_the_root_first() {
        let mut walk = NestingWalk::new("a".to_string());
        assert_eq!(walk.next_group(), Some(("a".to_string(), Direct)));
        assert_eq!(walk.user("u1".into()), Some(Direct));
        walk.nested_group("b".into());
        walk.nested_group("b".into());
        walk.nested_group("a".into());
        assert_eq!(walk.next_group(), Some(("b".to_string(), Transitive)));
        assert_eq!(walk.user("u1".into()), None);
        assert_eq!(walk.user("u2".into()), Some(Transitive));
        assert_eq!(walk.next_group(), None);
    }

    #[test]
    fn group_grants_expand_to_direct_members_with_the_role() {
        let grants = vec![
            AppGrant::User(AppAssignment::direct("u9")),
            AppGrant::Group {
                group_id: "g1".into(),
                role: Some("admin".into()),
            },
            AppGrant::Group {
                group_id: "g1".into(),
                role: None,
            },
            AppGrant::Group {
                group_id: "unknown".into(),
                role: None,
            },
        ];
        let members: BTreeMap<&str, Vec<&str>> = BTreeMap::from([("g1", vec!["u1", "u2"])]);
        let out = expand_grants(grants, |g| members.get(g).cloned().unwrap_or_default());
        let mut got: Vec<(String, Option<String>, Option<String>)> = out
            .into_iter()
            .map(|a| {
                let via = match a.via {
                    AssignedVia::Group { group_id } => group_id,
                    _ => None,
                };
                (a.user_id, via, a.role)
            })
            .collect();
        got.sort();
        let g1 = || Some("g1".to_string());
        assert_eq!(
            got,
            [
                ("u1".into(), g1(), None),
                ("u1".into(), g1(), Some("admin".into())),
                ("u2".into(), g1(), None),
                ("u2".into(), g1(), Some("admin".into())),
                ("u9".into(), None, None),
            ]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// The reference: users of every group reachable from the root
        /// (closure by repeated sweeps, no queue), the root's own direct.
        fn reference(
            groups: &[(BTreeSet<u8>, BTreeSet<u8>)],
            root: usize,
        ) -> BTreeMap<u8, MembershipKind> {
            let mut reach = BTreeSet::from([root]);
            loop {
                let before = reach.len();
                let next: Vec<usize> = reach
                    .iter()
                    .flat_map(|g| groups[*g].1.iter().map(|n| usize::from(*n) % groups.len()))
                    .collect();
                reach.extend(next);
                if reach.len() == before {
                    break;
                }
            }
            let mut out = BTreeMap::new();
            for g in reach {
                for u in &groups[g].0 {
                    out.entry(*u).or_insert(Transitive);
                }
            }
            for u in &groups[root].0 {
                out.insert(*u, Direct);
            }
            out
        }

        proptest! {
            #[test]
            fn the_walk_matches_the_closure(
                groups in prop::collection::vec(
                    (prop::collection::btree_set(0u8..20, 0..4),
                     prop::collection::btree_set(0u8..12, 0..3)),
                    1..12,
                ),
                root in 0usize..12,
            ) {
                let root = root % groups.len();
                let names: Vec<String> = (0..groups.len()).map(|g| format!("g{g}")).collect();
                let users: Vec<String> = (0..20).map(|u| format!("u{u}")).collect();
                let index = |g: &str| names.iter().position(|n| n == g);
                let got = resolve_nested(&names[root], |g| {
                    let (u, n) = index(g).map(|i| groups[i].clone()).unwrap_or_default();
                    (
                        u.into_iter().map(|u| users[usize::from(u)].as_str()).collect::<Vec<_>>(),
                        n.into_iter()
                            .map(|n| names[usize::from(n) % names.len()].as_str())
                            .collect::<Vec<_>>(),
                    )
                });
                let want: BTreeMap<String, MembershipKind> = reference(&groups, root)
                    .into_iter()
                    .map(|(u, k)| (format!("u{u}"), k))
                    .collect();
                prop_assert_eq!(got.len(), want.len(), "a user listed twice");
                let got: BTreeMap<String, MembershipKind> =
                    got.into_iter().map(|(u, k)| (u.to_string(), k)).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
