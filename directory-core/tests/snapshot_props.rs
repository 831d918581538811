//! Reading a snapshot back from JSON whose lists are shuffled and hold
//! duplicates gives the snapshot that was written.

use directory_core::{
    AppAssignment, AssignedVia, DirectoryGroup, DirectoryUser, Membership, MembershipKind, Snapshot,
};
use proptest::prelude::*;
use serde_json::Value;

const IDS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "h"];

fn id() -> impl Strategy<Value = String> {
    proptest::sample::select(IDS).prop_map(String::from)
}

fn membership() -> impl Strategy<Value = Membership> {
    (id(), id(), any::<bool>()).prop_map(|(g, u, direct)| Membership {
        group_id: g,
        user_id: u,
        kind: if direct {
            MembershipKind::Direct
        } else {
            MembershipKind::Transitive
        },
    })
}

fn assignment() -> impl Strategy<Value = AppAssignment> {
    let via = prop_oneof![
        Just(AssignedVia::Direct),
        proptest::option::of(id()).prop_map(|group_id| AssignedVia::Group { group_id }),
    ];
    (id(), via, proptest::option::of("[xy]")).prop_map(|(user_id, via, role)| AppAssignment {
        user_id,
        via,
        role,
    })
}

/// A snapshot of up to eight users and groups (ids drawn from one small set,
/// so duplicates and dangling references are common), and memberships and
/// assignments naming any of them, listed or not.
fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        proptest::collection::vec(id(), 0..10),
        proptest::collection::vec(id(), 0..10),
        proptest::collection::vec(membership(), 0..20),
        proptest::collection::vec(assignment(), 0..20),
    )
        .prop_map(|(users, groups, memberships, assignments)| {
            let users = users
                .into_iter()
                .map(|i| DirectoryUser::new(i.clone(), format!("{i}@x.test")))
                .collect();
            let groups = groups
                .into_iter()
                .map(|i| DirectoryGroup::new(i.clone(), i))
                .collect();
            Snapshot::from_parts("p", users, groups, memberships, assignments)
        })
}

/// Reorders every list by `order` (keys cycled over the items) and repeats
/// the items at the `doubled` positions.
fn shuffle_and_double(json: &mut Value, order: &[u32], doubled: &[usize]) {
    for list in ["users", "groups", "memberships", "appAssignments"] {
        let Some(Value::Array(items)) = json.get_mut(list) else {
            continue;
        };
        let mut keyed: Vec<(u32, Value)> = items
            .drain(..)
            .enumerate()
            .map(|(i, v)| (order.get(i % order.len().max(1)).copied().unwrap_or(0), v))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        items.extend(keyed.into_iter().map(|(_, v)| v));
        let copies: Vec<Value> = doubled
            .iter()
            .filter_map(|&i| items.get(i % items.len().max(1)).cloned())
            .collect();
        items.extend(copies);
    }
}

proptest! {
    #[test]
    fn a_shuffled_and_duplicated_json_round_trip_gives_the_same_snapshot(
        snap in snapshot(),
        order in proptest::collection::vec(any::<u32>(), 1..12),
        doubled in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        prop_assert!(snap.is_normalized());
        let mut json = serde_json::to_value(&snap).unwrap();
        shuffle_and_double(&mut json, &order, &doubled);
        let back: Snapshot = serde_json::from_value(json).unwrap();
        prop_assert_eq!(&back, &snap);
        for u in &snap.users {
            prop_assert_eq!(back.user(&u.id), Some(u));
        }
        for g in &snap.groups {
            prop_assert_eq!(back.group(&g.id), Some(g));
        }
    }

    #[test]
    fn closing_again_changes_nothing(snap in snapshot()) {
        let again = snap.clone().normalized();
        prop_assert_eq!(again, snap);
    }
}
