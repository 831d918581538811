//! A snapshot is closed and keeps its invariants however it is made:
//! collected, built from parts, or read back from JSON in any order.

use directory_core::testing::{assert_closed, run_conformance};
use directory_core::{
    AppAssignment, AssignedVia, DirectoryGroup, DirectoryProvider, DirectoryProviderExt,
    DirectoryUser, ErrorKind, InMemoryDirectory, Membership, Snapshot,
};
use serde_json::Value;

fn user(id: &str) -> DirectoryUser {
    DirectoryUser::new(id, format!("{id}@acme.test")).with_email(format!("{id}@acme.test"), true)
}

/// A directory whose member and assignment lists name `gone`, a user its
/// user list leaves out (as Okta's do for deactivated users).
fn with_unlisted_user() -> InMemoryDirectory {
    InMemoryDirectory::builder("acme")
        .page_size(2)
        .user(user("u1"))
        .user(user("u2"))
        .group(DirectoryGroup::new("g1", "Berlin"))
        .membership(Membership::direct("g1", "u1"))
        .membership(Membership::direct("g1", "gone"))
        .app_assignment(AppAssignment::direct("u2"))
        .app_assignment(AppAssignment::direct("gone"))
        .app_assignment(AppAssignment::via_group("gone", "g1"))
        .build()
}

#[tokio::test]
async fn collect_drops_and_counts_references_to_unlisted_users() {
    let snapshot = with_unlisted_user().snapshot().await.unwrap();
    assert_eq!(snapshot.memberships, [Membership::direct("g1", "u1")]);
    assert_eq!(snapshot.app_assignments, [AppAssignment::direct("u2")]);
    assert_eq!(snapshot.dropped.memberships_of_unlisted_users, 1);
    assert_eq!(snapshot.dropped.assignments_of_unlisted_users, 2);
    assert_eq!(snapshot.dropped.total(), 3);
    assert_closed(&"memory(acme)", &snapshot);
}

#[tokio::test]
async fn the_conformance_suite_accepts_streams_that_name_unlisted_users() {
    let dir = with_unlisted_user();
    let d = dir.data();
    let expected = Snapshot::from_parts("x", d.users, d.groups, d.memberships, d.app_assignments);
    run_conformance(&dir, &expected, 1).await;
}

#[test]
#[should_panic(expected = "names a user the snapshot does not list")]
fn the_closure_check_names_an_assignment_of_an_unlisted_user() {
    let mut s = Snapshot::from_parts("x", vec![user("u1")], vec![], vec![], vec![]);
    s.users.clear();
    s.app_assignments.push(AppAssignment::direct("u1"));
    assert_closed(&"x", &s);
}

#[test]
fn from_parts_closes_every_kind_of_reference() {
    let s = Snapshot::from_parts(
        "x",
        vec![user("u1")],
        vec![DirectoryGroup::new("g1", "G")],
        vec![
            Membership::direct("g1", "u1"),
            Membership::direct("g1", "gone"),
            Membership::direct("ghost", "u1"),
        ],
        vec![
            AppAssignment::via_group("u1", "ghost"),
            AppAssignment::via_group("u1", "g1"),
        ],
    );
    assert_eq!(s.memberships, [Membership::direct("g1", "u1")]);
    let cleared = AppAssignment {
        user_id: "u1".into(),
        via: AssignedVia::Group { group_id: None },
        role: None,
    };
    assert_eq!(
        s.app_assignments,
        [cleared, AppAssignment::via_group("u1", "g1")]
    );
    assert_eq!(s.dropped.memberships_of_unlisted_users, 1);
    assert_eq!(s.dropped.memberships_of_unlisted_groups, 1);
    assert_eq!(s.dropped.assignment_groups_unlisted, 1);
    assert!(s.is_normalized());
}

/// A provider whose bulk memberships name a group its group list does not
/// hold: the sign of an incomplete group list.
struct Disagreeing(InMemoryDirectory);

impl std::fmt::Display for Disagreeing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disagreeing")
    }
}

#[async_trait::async_trait]
impl DirectoryProvider for Disagreeing {
    fn users(&self) -> directory_core::Pages<DirectoryUser> {
        self.0.users()
    }
    fn groups(&self) -> directory_core::Pages<DirectoryGroup> {
        self.0.groups()
    }
    fn group_members(&self, group_id: &str) -> directory_core::Pages<Membership> {
        self.0.group_members(group_id)
    }
    fn app_assignments(&self) -> directory_core::Pages<AppAssignment> {
        self.0.app_assignments()
    }
    async fn check(&self) -> directory_core::CheckReport {
        self.0.check().await
    }
    fn memberships(&self, _ids: Vec<String>) -> Option<directory_core::Pages<Membership>> {
        let page = vec![
            Membership::direct("g1", "u1"),
            Membership::direct("00g-missing", "u2"),
        ];
        Some(Box::pin(futures::stream::iter(vec![Ok(page)])))
    }
}

#[tokio::test]
async fn a_membership_of_an_unlisted_group_fails_the_collection() {
    let err = Disagreeing(with_unlisted_user())
        .snapshot()
        .await
        .expect_err("a membership of an unlisted group must not be dropped silently");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    let msg = err.to_string();
    assert!(msg.contains("00g-missing"), "{msg}");
    assert!(msg.contains("group list"), "{msg}");
}

fn reversed_and_doubled(json: &mut Value) {
    for list in ["users", "groups", "memberships", "appAssignments"] {
        if let Some(Value::Array(items)) = json.get_mut(list) {
            items.reverse();
            let copy = items.clone();
            items.extend(copy);
        }
    }
}

#[tokio::test]
async fn a_snapshot_read_from_unsorted_json_finds_every_user_and_group() {
    let dir = InMemoryDirectory::builder("acme")
        .user(user("u1"))
        .user(user("u2"))
        .user(user("u3"))
        .group(DirectoryGroup::new("g1", "Berlin"))
        .group(DirectoryGroup::new("g2", "Paris"))
        .membership(Membership::direct("g2", "u3"))
        .app_assignment(AppAssignment::direct("u1"))
        .app_assignment(AppAssignment::direct("u2"))
        .app_assignment(AppAssignment::via_group("u3", "g2"))
        .build();
    let collected = dir.snapshot().await.unwrap();
    let mut json = serde_json::to_value(&collected).unwrap();
    reversed_and_doubled(&mut json);
    let back: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, collected);
    for a in &back.app_assignments {
        assert!(back.user(&a.user_id).is_some(), "{} lost", a.user_id);
    }
    assert!(back.group("g1").is_some() && back.group("g2").is_some());
}

#[test]
fn json_naming_a_group_it_does_not_list_is_refused() {
    let s = Snapshot::from_parts("x", vec![user("u1")], vec![], vec![], vec![]);
    let mut json = serde_json::to_value(&s).unwrap();
    json["memberships"] = serde_json::json!([{"groupId": "g9", "userId": "u1", "kind": "direct"}]);
    let err = serde_json::from_value::<Snapshot>(json).unwrap_err();
    assert!(err.to_string().contains("g9"), "{err}");
}

#[test]
fn json_naming_an_unlisted_user_is_closed_and_the_count_survives() {
    let s = Snapshot::from_parts("x", vec![user("u1")], vec![], vec![], vec![]);
    let mut json = serde_json::to_value(&s).unwrap();
    json["appAssignments"] = serde_json::json!([{"userId": "gone", "via": {"type": "direct"}}]);
    let back: Snapshot = serde_json::from_value(json).unwrap();
    assert!(back.app_assignments.is_empty());
    assert_eq!(back.dropped.assignments_of_unlisted_users, 1);
    let again: Snapshot = serde_json::from_str(&serde_json::to_string(&back).unwrap()).unwrap();
    assert_eq!(again, back, "the count is kept through a round trip");
}

#[test]
fn changed_lists_are_put_right_by_normalized() {
    let mut s = Snapshot::from_parts("x", vec![user("u1"), user("u3")], vec![], vec![], vec![]);
    s.users.insert(0, user("u2"));
    assert!(!s.is_normalized());
    let s = s.normalized();
    assert!(s.is_normalized());
    assert!(s.user("u2").is_some() && s.user("u1").is_some());
}

#[test]
fn two_snapshots_of_one_directory_are_the_same_directory_but_not_equal() {
    let a = Snapshot::from_parts("x", vec![user("u1")], vec![], vec![], vec![]);
    let mut b = a.clone();
    b.collected_at += chrono::Duration::seconds(1);
    assert_ne!(a, b);
    assert!(a.same_directory(&b));
}
