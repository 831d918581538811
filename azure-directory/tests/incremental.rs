//! Entra behind the provider-neutral incremental API
//! (`DirectoryProviderExt::sync`), against the simulated tenant.

use azure_directory::testkit::{Fault, MemberType, SimulatedTenant, TenantHandle};
use azure_directory::AzureDirectory;
use directory_core::{
    DirectoryProviderExt, FullReason, RoundKind, SyncOptions, SyncRound, SyncState,
};

async fn tenant() -> (TenantHandle, AzureDirectory) {
    let t = SimulatedTenant::builder()
        .seed(15)
        .users(300)
        .groups(12)
        .app_users(20)
        .start()
        .await
        .unwrap();
    let azure = t.provider().unwrap();
    (t, azure)
}

async fn next(azure: &AzureDirectory, prev: &SyncRound) -> SyncRound {
    // What a host does: the state goes through JSON between rounds.
    let state = SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    azure
        .sync(Some((&prev.snapshot, &state)), &SyncOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn rounds_after_the_first_follow_the_delta_links_and_equal_a_full_collection() {
    let (t, azure) = tenant().await;
    let first = azure.sync(None, &SyncOptions::default()).await.unwrap();
    assert!(first.report.round.is_full());
    assert!(first.snapshot.same_directory(&t.ground_truth()));

    t.reset_requests();
    let unchanged = next(&azure, &first).await;
    assert_eq!(unchanged.report.round, RoundKind::Incremental);
    assert!(unchanged.report.changes.is_empty());
    assert_eq!(t.requests().endpoint("users/delta"), 1);

    let leaver = t.data().users[3].id.clone();
    t.mutate(|m| {
        m.delete_user(&leaver);
        let u = m.new_user("newcomer");
        m.add_user(u);
    });
    let changed = next(&azure, &unchanged).await;
    assert_eq!(changed.report.round, RoundKind::Incremental);
    let c = changed.report.changes;
    assert_eq!((c.users_added, c.users_removed), (1, 1), "{c:?}");
    assert!(changed.snapshot.same_directory(&t.ground_truth()));
    assert_eq!(changed.state.rounds_since_full(), 2);
}

#[tokio::test]
async fn a_round_in_which_only_the_app_assignments_changed_expands_them_from_the_previous_members()
{
    let (t, azure) = tenant().await;
    let first = azure.sync(None, &SyncOptions::default()).await.unwrap();
    // A group with members that is not assigned yet, and an assigned user.
    let data = t.data();
    let assigned: Vec<String> = data
        .assignments
        .iter()
        .map(|a| a.principal_id.clone())
        .collect();
    let group = data
        .groups
        .iter()
        .find(|g| {
            let members = data.members.get(&g.id).into_iter().flatten();
            !assigned.contains(&g.id) && members.into_iter().any(|m| m.kind == MemberType::User)
        })
        .map(|g| g.id.clone())
        .expect("a group with members, not assigned");
    let user = data
        .assignments
        .iter()
        .find(|a| a.principal_type == "User")
        .map(|a| a.principal_id.clone())
        .expect("a user assigned the app");
    t.mutate(|m| {
        m.assign(&group, "Group", None);
        m.unassign(&user);
    });
    let round = next(&azure, &first).await;
    assert_eq!(round.report.round, RoundKind::Incremental);
    let c = round.report.changes;
    assert_eq!(
        (c.users_added, c.users_changed, c.memberships_added),
        (0, 0, 0),
        "{c:?}"
    );
    assert!(
        c.assignments_added > 0 && c.assignments_removed > 0,
        "{c:?}"
    );
    assert!(round.snapshot.same_directory(&t.ground_truth()));
    assert!(round
        .snapshot
        .same_directory(&azure.snapshot().await.unwrap()));
}

#[tokio::test]
async fn expired_delta_links_make_a_full_round_that_says_why() {
    let (t, azure) = tenant().await;
    let first = azure.sync(None, &SyncOptions::default()).await.unwrap();
    t.expire_delta_tokens();
    let round = next(&azure, &first).await;
    match &round.report.round {
        RoundKind::Full {
            reason: FullReason::Provider { detail },
        } => assert!(detail.contains("reset the delta links"), "{detail}"),
        other => panic!("expected a full round forced by Graph, got {other:?}"),
    }
    assert!(round.snapshot.same_directory(&t.ground_truth()));
    assert_eq!(round.state.rounds_since_full(), 0);
}

#[tokio::test]
async fn each_round_reports_the_requests_the_tenant_served_for_it() {
    let (t, azure) = tenant().await;
    t.reset_requests();
    let first = azure.sync(None, &SyncOptions::default()).await.unwrap();
    let served = t.requests();
    assert!(served.endpoint("token") >= 1, "the token request counts");
    assert_eq!(first.report.requests, Some(served.total), "{served:?}");

    let renamed = t.data().users[5].id.clone();
    t.mutate(|m| m.update_user(&renamed, |u| u.display_name = Some("Renamed".into())));
    t.inject(Fault::status(503).on_path("/users/delta"));
    t.reset_requests();
    let second = next(&azure, &first).await;
    assert_eq!(second.report.round, RoundKind::Incremental);
    let served = t.requests();
    assert_eq!(served.endpoint("users/delta"), 2, "the retry counts");
    assert_eq!(second.report.requests, Some(served.total), "{served:?}");
}
