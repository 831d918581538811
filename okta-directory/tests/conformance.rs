//! The directory-core conformance suite and full snapshots against the
//! simulated org, over loopback with real token flows and DPoP.

use directory_core::testing::run_conformance;
use directory_core::{AssignedVia, DirectoryProviderExt, UserStatus};
use okta_directory::testkit::OktaOrg;
use okta_directory::PageLimits;

#[tokio::test]
async fn conformance_suite_passes_against_the_simulated_org() {
    let org = OktaOrg::builder()
        .users(450)
        .groups(12)
        .app_users(60)
        .start()
        .await
        .unwrap();
    let limits = PageLimits {
        group_members: 50,
        app_users: 25,
        ..PageLimits::default()
    };
    let okta = org.provider_builder().page_limits(limits).build().unwrap();
    let report = run_conformance(&okta, &org.ground_truth(), 3).await;
    assert!(report.user_pages >= 3);
    assert_eq!(okta.token_fetches(), 1, "one token serves the whole run");
}

#[tokio::test]
async fn ten_thousand_user_snapshot_equals_the_ground_truth() {
    let org = OktaOrg::builder()
        .seed(42)
        .users(10_000)
        .groups(200)
        .app_users(1_000)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    let truth = org.ground_truth();
    assert_eq!(snapshot.users.len(), 10_000);
    assert_eq!(snapshot.users, truth.users, "users differ");
    assert_eq!(
        snapshot.memberships, truth.memberships,
        "memberships differ"
    );
    assert_eq!(
        snapshot.app_assignments, truth.app_assignments,
        "app users differ"
    );
    assert!(snapshot.same_directory(&truth));
    // Statuses, deprovisioned users (absent from Okta's plain list) and both
    // kinds of app assignment all made it.
    let count = |s: UserStatus| snapshot.users.iter().filter(|u| u.status == s).count();
    assert!(count(UserStatus::Deprovisioned) > 0);
    assert!(count(UserStatus::Suspended) > 0);
    assert!(snapshot
        .app_assignments
        .iter()
        .any(|a| a.via == AssignedVia::Direct));
    assert!(snapshot
        .app_assignments
        .iter()
        .any(|a| matches!(a.via, AssignedVia::Group { .. })));
    // Largest page sizes: users 200 per page (plain + deprovisioned lists),
    // one groups page, one page per group, two app-user pages of 500.
    let plain = truth
        .users
        .iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .count();
    let deprov = truth.users.len() - plain;
    assert_eq!(
        org.requests("users"),
        (plain.div_ceil(200) + deprov.div_ceil(200)) as u64
    );
    assert_eq!(org.requests("groups"), 1);
    assert_eq!(org.requests("groups/id"), 200);
    assert_eq!(org.requests("apps"), 2);
    assert_eq!(org.rate_limited(), 0);
}

#[tokio::test]
async fn awkward_data_survives_the_round_trip() {
    let org = OktaOrg::builder()
        .users(120)
        .groups(10)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&org.ground_truth()));
    assert!(
        snapshot.users.iter().any(|u| u.emails.is_empty()),
        "a user without email"
    );
    assert!(snapshot
        .users
        .iter()
        .any(|u| !u.custom_attributes.is_empty()));
    assert!(snapshot.users.iter().any(|u| u
        .name
        .given_name
        .as_deref()
        .is_some_and(|n| !n.is_ascii())));
}

#[tokio::test]
async fn uneven_groups_and_everyone_page_their_members() {
    let org = OktaOrg::builder()
        .users(2_500)
        .groups(30)
        .group_skew(2.0)
        .everyone_group(true)
        .start()
        .await
        .unwrap();
    let truth = org.ground_truth();
    let everyone = truth.groups.iter().find(|g| g.name == "Everyone").unwrap();
    assert_eq!(everyone.kind, directory_core::GroupKind::BuiltIn);
    let size = |id: &str| {
        truth
            .memberships
            .iter()
            .filter(|m| m.group_id == id)
            .count()
    };
    assert_eq!(size(&everyone.id), 2_500);
    assert!(
        size(&truth.groups[0].id) > 4 * size(&truth.groups[29].id),
        "skewed sizes"
    );
    let okta = org.provider().unwrap();
    assert!(okta.snapshot().await.unwrap().same_directory(&truth));
    // 30 groups in one page each, except Everyone (3 pages of 1,000) and any
    // other group over 1,000 members.
    let expected: usize = truth
        .groups
        .iter()
        .map(|g| size(&g.id).div_ceil(1_000).max(1))
        .sum();
    assert_eq!(org.requests("groups/id") as usize, expected);
}
