//! The directory-core conformance suite and ground-truth snapshots against
//! the simulated tenant, over loopback.

use azure_directory::testkit::SimulatedTenant;
use directory_core::testing::run_conformance;
use directory_core::DirectoryProviderExt;

#[tokio::test]
async fn conformance_suite_passes_against_the_simulated_tenant() {
    let tenant = SimulatedTenant::builder()
        .seed(3)
        .users(250)
        .groups(12)
        .app_users(40)
        .start()
        .await
        .unwrap();
    let azure = tenant.provider_builder().page_size(40).build().unwrap();
    let expected = tenant.ground_truth();
    assert_eq!(azure.to_string(), format!("azure({})", tenant.tenant_id()));
    let report = run_conformance(&azure, &expected, 6).await;
    assert!(report.user_pages >= 7, "{report:?}");
    assert!(!expected.app_assignments.is_empty());
    assert!(expected
        .memberships
        .iter()
        .any(|m| m.kind == directory_core::MembershipKind::Transitive));
}

#[tokio::test]
async fn certificate_credential_passes_the_conformance_suite_too() {
    let tenant = SimulatedTenant::builder()
        .seed(4)
        .users(60)
        .groups(6)
        .start()
        .await
        .unwrap();
    let azure = tenant
        .provider_builder_with_certificate()
        .page_size(25)
        .build()
        .unwrap();
    run_conformance(&azure, &tenant.ground_truth(), 3).await;
}

#[tokio::test]
async fn snapshot_of_10000_users_equals_the_ground_truth() {
    let tenant = SimulatedTenant::builder()
        .seed(10)
        .users(10_000)
        .groups(200)
        .app_users(1_000)
        .start()
        .await
        .unwrap();
    let azure = tenant.provider().unwrap();
    let snapshot = azure.snapshot().await.unwrap();
    let truth = tenant.ground_truth();
    assert_eq!(snapshot.users.len(), 10_000);
    assert_eq!(snapshot.users, truth.users);
    assert_eq!(snapshot.groups, truth.groups);
    assert_eq!(snapshot.memberships, truth.memberships);
    assert_eq!(snapshot.app_assignments, truth.app_assignments);
    assert!(snapshot.memberships.len() > 30_000);
    let stats = tenant.requests();
    assert_eq!(
        stats.endpoint("users"),
        11,
        "10,000 users at $top=999 are 11 pages"
    );
    assert_eq!(
        stats.endpoint("token"),
        1,
        "one token for the whole snapshot"
    );
    assert_eq!(stats.throttled, 0);
}

#[tokio::test]
async fn ps256_certificate_assertions_are_accepted_too() {
    let tenant = SimulatedTenant::builder()
        .seed(6)
        .users(30)
        .groups(4)
        .start()
        .await
        .unwrap();
    let azure = tenant
        .provider_builder_with_certificate()
        .certificate_pss(true)
        .build()
        .unwrap();
    let snapshot = azure.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&tenant.ground_truth()));
}

#[tokio::test]
async fn a_snapshot_reads_each_groups_members_once_even_when_nested() {
    let tenant = SimulatedTenant::builder()
        .seed(5)
        .users(400)
        .groups(30)
        .app_users(0)
        .nested_groups(true)
        .start()
        .await
        .unwrap();
    let data = tenant.data();
    let nested_parents = data
        .members
        .values()
        .filter(|m| {
            m.iter()
                .any(|x| x.kind == azure_directory::testkit::MemberType::Group)
        })
        .count();
    assert!(
        nested_parents > 0,
        "the tenant must nest groups for this test"
    );
    let azure = tenant.provider_builder().build().unwrap();
    tenant.reset_requests();
    let snap = azure.snapshot().await.unwrap();
    assert!(snap.same_directory(&tenant.ground_truth()));
    // One members page per group (every group is smaller than a page):
    // nested groups are not read again under their parents.
    assert_eq!(
        tenant.requests().endpoint("groups/members"),
        data.groups.len() as u64
    );
}
