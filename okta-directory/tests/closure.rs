//! Okta lists deactivated users among a group's members and the app's users
//! even when the user list leaves them out (`include_deprovisioned(false)`):
//! the snapshot, over the wire from the simulated org, is still closed.

use directory_core::testing::{assert_closed, run_conformance};
use directory_core::{AppAssignment, DirectoryProviderExt, Membership, Snapshot, UserStatus};
use okta_directory::testkit::OktaOrg;
use okta_directory::PageLimits;

/// An org with one deactivated user who is a member of every group and
/// assigned to the app directly; returns the org and that user's id.
async fn org_with_a_deactivated_member() -> (OktaOrg, String) {
    let org = OktaOrg::builder()
        .users(40)
        .groups(3)
        .app_users(10)
        .inactive_share(0.0)
        .start()
        .await
        .unwrap();
    let truth = org.ground_truth();
    let gone = truth.users.get(7).unwrap().id.clone();
    let groups: Vec<String> = truth.groups.iter().map(|g| g.id.clone()).collect();
    org.mutate(|d| {
        let u = d.users.iter_mut().find(|u| u.id == gone).unwrap();
        u.status = UserStatus::Deprovisioned;
        for g in &groups {
            d.memberships
                .push(Membership::direct(g.clone(), gone.clone()));
        }
        d.app_assignments.push(AppAssignment::direct(gone.clone()));
    });
    (org, gone)
}

/// What a sync that leaves deprovisioned users out must produce.
fn without_deprovisioned(truth: Snapshot) -> Snapshot {
    let users = truth
        .users
        .into_iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .collect();
    Snapshot::from_parts(
        "expected",
        users,
        truth.groups,
        truth.memberships,
        truth.app_assignments,
    )
}

#[tokio::test]
async fn without_deprovisioned_users_the_snapshot_is_closed() {
    let (org, gone) = org_with_a_deactivated_member().await;
    let okta = org
        .provider_builder()
        .include_deprovisioned(false)
        .build()
        .unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert!(snapshot.user(&gone).is_none(), "the plain list omits them");
    assert!(!snapshot.memberships.iter().any(|m| m.user_id == gone));
    assert!(!snapshot.app_assignments.iter().any(|a| a.user_id == gone));
    assert_eq!(snapshot.dropped.memberships_of_unlisted_users, 3);
    assert_eq!(snapshot.dropped.assignments_of_unlisted_users, 1);
    assert_closed(&okta, &snapshot);
    assert!(snapshot.same_directory(&without_deprovisioned(org.ground_truth())));
}

#[tokio::test]
async fn the_conformance_suite_passes_without_deprovisioned_users() {
    let (org, _) = org_with_a_deactivated_member().await;
    let limits = PageLimits {
        users: 15,
        group_members: 5,
        app_users: 4,
        ..PageLimits::default()
    };
    let okta = org
        .provider_builder()
        .include_deprovisioned(false)
        .page_limits(limits)
        .build()
        .unwrap();
    run_conformance(&okta, &without_deprovisioned(org.ground_truth()), 2).await;
}

#[tokio::test]
async fn with_deprovisioned_users_nothing_is_dropped() {
    let (org, gone) = org_with_a_deactivated_member().await;
    let okta = org.provider_builder().build().unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert_eq!(
        snapshot.user(&gone).map(|u| &u.status),
        Some(&UserStatus::Deprovisioned)
    );
    assert_eq!(
        snapshot
            .memberships
            .iter()
            .filter(|m| m.user_id == gone)
            .count(),
        3
    );
    assert!(snapshot.dropped.is_empty(), "{:?}", snapshot.dropped);
    assert!(snapshot.same_directory(&org.ground_truth()));
}
