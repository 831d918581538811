//! Incremental sync with delta queries against the simulated tenant.

use azure_directory::testkit::{MemberType, SimMember, SimulatedTenant, TenantHandle};
use azure_directory::{AzureDirectory, DeltaOutcome, DeltaState};
use directory_core::{MembershipKind, Snapshot, UserStatus};

async fn tenant(users: usize, groups: usize) -> (TenantHandle, AzureDirectory) {
    let t = SimulatedTenant::builder()
        .seed(21)
        .users(users)
        .groups(groups)
        .app_users(30)
        .start()
        .await
        .unwrap();
    let azure = t.provider().unwrap();
    (t, azure)
}

async fn first_sync(azure: &AzureDirectory) -> (DeltaOutcome, Snapshot) {
    let first = azure.delta_sync(None).await.unwrap();
    assert!(first.full_sync && first.reset.is_none());
    let snap = first.apply(None).unwrap();
    (first, snap)
}

#[tokio::test]
async fn a_full_delta_round_equals_the_ground_truth_and_the_state_round_trips_as_json() {
    let (t, azure) = tenant(400, 15).await;
    let (first, snap) = first_sync(&azure).await;
    assert!(snap.same_directory(&t.ground_truth()));
    let json = serde_json::to_string(&first.state).unwrap();
    let back: DeltaState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, first.state);
    assert!(!back.nested_groups.is_empty(), "the nested edges are kept");
}

#[tokio::test]
async fn a_delta_after_a_mutation_fetches_only_the_change() {
    let (t, azure) = tenant(2_000, 40).await;
    let (first, base) = first_sync(&azure).await;
    let data = t.data();
    let (renamed, leaver, group) = (
        data.users[5].id.clone(),
        data.users[6].id.clone(),
        data.groups[10].id.clone(),
    );
    let newcomer = t.mutate(|m| {
        m.update_user(&renamed, |u| {
            u.display_name = Some("Renamed Person".into());
            u.account_enabled = false;
        });
        m.delete_user(&leaver);
        let u = m.new_user("newcomer");
        let id = u.id.clone();
        m.add_user(u);
        m.add_member(
            &group,
            SimMember {
                id: id.clone(),
                kind: MemberType::User,
            },
        );
        id
    });
    t.reset_requests();
    let next = azure.delta_sync(Some(&first.state)).await.unwrap();
    assert!(!next.full_sync && next.reset.is_none());
    let changed: Vec<&str> = next
        .changes
        .users_changed
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(
        changed.len(),
        2,
        "only the renamed user and the newcomer: {changed:?}"
    );
    assert!(changed.contains(&renamed.as_str()) && changed.contains(&newcomer.as_str()));
    assert_eq!(next.changes.users_removed, vec![leaver.clone()]);
    assert!(next
        .changes
        .members_added
        .contains(&(group.clone(), newcomer.clone())));
    let stats = t.requests();
    assert_eq!(stats.endpoint("users/delta"), 1);
    assert_eq!(stats.endpoint("groups/delta"), 1);
    assert_eq!(
        stats.endpoint("users") + stats.endpoint("groups") + stats.endpoint("groups/members"),
        0
    );

    let snap = next.apply(Some(&base)).unwrap();
    let truth = t.ground_truth();
    assert!(
        snap.same_directory(&truth),
        "delta-applied snapshot differs from the ground truth"
    );
    assert_eq!(snap.user(&renamed).unwrap().status, UserStatus::Disabled);
    assert!(snap.user(&leaver).is_none());
    assert!(snap
        .memberships
        .iter()
        .any(|m| m.user_id == newcomer && m.group_id == group && m.kind == MembershipKind::Direct));
}

#[tokio::test]
async fn a_second_delta_sync_of_an_unchanged_tenant_makes_a_handful_of_requests() {
    let (t, azure) = tenant(10_000, 200).await;
    let (first, base) = first_sync(&azure).await;
    assert!(base.same_directory(&t.ground_truth()));
    t.reset_requests();
    let next = azure.delta_sync(Some(&first.state)).await.unwrap();
    assert!(next.changes.is_empty());
    let stats = t.requests();
    assert!(
        stats.total <= 4,
        "an unchanged tenant took {} requests: {:?}",
        stats.total,
        stats.by_endpoint
    );
    assert!(next.apply(Some(&base)).unwrap().same_directory(&base));
}

#[tokio::test]
async fn an_expired_delta_token_falls_back_to_a_full_sync_and_says_so() {
    let (t, azure) = tenant(300, 10).await;
    let (first, base) = first_sync(&azure).await;
    let gone = t.data().users[0].id.clone();
    t.mutate(|m| m.delete_user(&gone));
    t.expire_delta_tokens();
    let next = azure.delta_sync(Some(&first.state)).await.unwrap();
    assert!(next.full_sync);
    let reset = next.reset.as_ref().expect("the fallback is reported");
    assert_eq!(reset.code, "syncStateNotFound");
    assert_eq!(reset.status, Some(400));
    assert!(reset.request_id.is_some());
    // A full round ignores the old snapshot and still gives the truth.
    let snap = next.apply(Some(&base)).unwrap();
    assert!(snap.same_directory(&t.ground_truth()));
    // The new state works incrementally again.
    let again = azure.delta_sync(Some(&next.state)).await.unwrap();
    assert!(!again.full_sync && again.changes.is_empty());
}

#[tokio::test]
async fn a_sync_reset_410_and_a_foreign_tenant_state_also_start_over() {
    let (t, azure) = tenant(120, 6).await;
    let (first, _) = first_sync(&azure).await;
    t.reset_delta_sync();
    let next = azure.delta_sync(Some(&first.state)).await.unwrap();
    assert_eq!(next.reset.as_ref().map(|r| r.status), Some(Some(410)));
    assert!(next.apply(None).unwrap().same_directory(&t.ground_truth()));
    let mut foreign = next.state.clone();
    foreign.tenant_id = "00000000-1111-2222-3333-444444444444".into();
    let again = azure.delta_sync(Some(&foreign)).await.unwrap();
    assert_eq!(
        again.reset.map(|r| r.code).as_deref(),
        Some("tenantMismatch")
    );
}

#[tokio::test]
async fn an_incremental_delta_needs_the_previous_snapshot_and_refuses_foreign_links() {
    let (_t, azure) = tenant(50, 4).await;
    let (first, _) = first_sync(&azure).await;
    let next = azure.delta_sync(Some(&first.state)).await.unwrap();
    assert!(next.apply(None).is_err());
    let mut evil = first.state.clone();
    evil.users_delta_link = "https://graph.evil.example/v1.0/users/delta?$deltatoken=x".into();
    let e = azure.delta_sync(Some(&evil)).await.unwrap_err();
    assert!(e.message().contains("outside the configured origin"), "{e}");
}

#[tokio::test]
async fn group_membership_and_nesting_changes_are_applied() {
    let (t, azure) = tenant(200, 12).await;
    let (first, base) = first_sync(&azure).await;
    let data = t.data();
    let (g_parent, g_child, g_gone) = (
        data.groups[5].id.clone(),
        data.groups[6].id.clone(),
        data.groups[7].id.clone(),
    );
    let member = data.members[&g_parent]
        .iter()
        .find(|m| m.kind == MemberType::User)
        .unwrap()
        .id
        .clone();
    t.mutate(|m| {
        m.remove_member(&g_parent, &member);
        m.add_member(
            &g_parent,
            SimMember {
                id: g_child.clone(),
                kind: MemberType::Group,
            },
        );
        m.delete_group(&g_gone);
        m.update_group(&g_child, |g| g.display_name = "Renamed group".into());
    });
    let next = azure.delta_sync(Some(&first.state)).await.unwrap();
    assert_eq!(next.changes.groups_removed, vec![g_gone.clone()]);
    let snap = next.apply(Some(&base)).unwrap();
    assert!(snap.same_directory(&t.ground_truth()));
    assert!(snap
        .memberships
        .iter()
        .any(|m| m.group_id == g_parent && m.kind == MembershipKind::Transitive));
}

#[tokio::test]
async fn delta_snapshot_is_a_cheaper_full_sync_and_then_an_incremental_one() {
    let (t, azure) = tenant(3_000, 60).await;
    let (full, outcome) = azure.delta_snapshot(None).await.unwrap();
    assert!(full.same_directory(&t.ground_truth()));
    let delta_requests = t.requests().graph();
    t.reset_requests();
    let streamed = directory_core::DirectoryProviderExt::snapshot(&azure)
        .await
        .unwrap();
    assert!(streamed.same_directory(&full));
    assert!(
        delta_requests < t.requests().graph(),
        "{delta_requests} delta requests vs {} streamed",
        t.requests().graph()
    );
    let id = t.data().users[1].id.clone();
    t.mutate(|m| m.update_user(&id, |u| u.job_title = Some("Chief".into())));
    let (next, _) = azure
        .delta_snapshot(Some((&full, &outcome.state)))
        .await
        .unwrap();
    assert_eq!(next.user(&id).unwrap().title.as_deref(), Some("Chief"));
    assert!(next.same_directory(&t.ground_truth()));
}

#[tokio::test]
async fn large_groups_come_in_member_slices_that_are_merged() {
    let t = SimulatedTenant::builder()
        .seed(31)
        .users(1_300)
        .groups(2)
        .memberships_per_user(2)
        .nested_groups(false)
        .start()
        .await
        .unwrap();
    assert!(
        t.data().members.values().any(|m| m.len() > 1_000),
        "a group spans several slices"
    );
    let azure = t.provider().unwrap();
    let (first, snap) = first_sync(&azure).await;
    assert!(snap.same_directory(&t.ground_truth()));
    assert!(
        first.changes.groups_changed.len() == 2,
        "each group once, however many slices"
    );
}
