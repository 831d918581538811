//! Incremental hints: users and groups changed since a time, over the
//! simulated org's `filter` support; the directory mutated between syncs.

use chrono::{Duration, Utc};
use directory_core::{DirectoryProviderExt, Membership, UserStatus};
use futures::TryStreamExt;
use okta_directory::testkit::OktaOrg;

#[tokio::test]
async fn changed_users_and_groups_are_found_and_a_full_sync_stays_the_truth() {
    let org = OktaOrg::builder()
        .users(300)
        .groups(10)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    let first = okta.snapshot().await.unwrap();
    let since = Utc::now() - Duration::seconds(5);
    let (renamed, gone) = (first.users[3].id.clone(), first.users[4].id.clone());
    let group = first.groups[2].id.clone();
    org.mutate(|d| {
        let now = Some(Utc::now());
        let u = d.users.iter_mut().find(|u| u.id == renamed).unwrap();
        u.name.family_name = Some("Renamed".into());
        u.last_updated = now;
        let u = d.users.iter_mut().find(|u| u.id == gone).unwrap();
        u.status = UserStatus::Deprovisioned;
        u.last_updated = now;
        let g = d.groups.iter_mut().find(|g| g.id == group).unwrap();
        g.last_membership_updated = now;
        d.memberships
            .push(Membership::direct(group.clone(), renamed.clone()));
    });
    let users: Vec<_> = okta.users_changed_since(since).try_concat().await.unwrap();
    let mut ids: Vec<_> = users.iter().map(|u| u.id.clone()).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![renamed.clone(), gone.clone()],
        "deprovisioned users included"
    );
    let groups: Vec<_> = okta.groups_changed_since(since).try_concat().await.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [group.as_str()]
    );

    let second = okta.snapshot().await.unwrap();
    assert!(second.same_directory(&org.ground_truth()));
    assert_eq!(
        second.user(&gone).unwrap().status,
        UserStatus::Deprovisioned
    );
    assert_eq!(
        second.user(&renamed).unwrap().name.family_name.as_deref(),
        Some("Renamed")
    );
}

#[tokio::test]
async fn every_kind_of_change_between_syncs_shows_in_the_next_snapshot() {
    let org = OktaOrg::builder()
        .users(200)
        .groups(6)
        .app_users(30)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    let first = okta.snapshot().await.unwrap();
    let removed = first.groups[0].id.clone();
    let through_removed = |a: &directory_core::AppAssignment| {
        a.via
            == directory_core::AssignedVia::Group {
                group_id: Some(removed.clone()),
            }
    };
    let lost = first
        .app_assignments
        .iter()
        .filter(|a| through_removed(a))
        .count();
    org.mutate(|d| {
        let mut new = d.users[0].clone();
        new.id = "00uZZZZZZZZZZZZZZZZZ".into();
        d.users.push(new);
        d.users[1].emails.clear();
        d.users[2].status = UserStatus::Suspended;
        let removed = d.groups.remove(0).id;
        d.memberships.retain(|m| m.group_id != removed);
        d.app_assignments.pop();
    });
    let second = okta.snapshot().await.unwrap();
    assert!(second.same_directory(&org.ground_truth()));
    assert_eq!(second.groups.len(), 5);
    // The pop, and Okta drops the assignments made through a deleted group.
    assert_eq!(second.app_assignments.len(), 30 - 1 - lost);
    assert!(!second.app_assignments.iter().any(through_removed));
}

/// What a host does between rounds: the state goes through JSON.
async fn next_round(
    okta: &okta_directory::OktaDirectory,
    prev: &directory_core::SyncRound,
) -> directory_core::SyncRound {
    let state = directory_core::SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    okta.sync(
        Some((&prev.snapshot, &state)),
        &directory_core::SyncOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_incremental_round_reads_only_what_changed_and_equals_a_full_collection() {
    let org = OktaOrg::builder()
        .users(600)
        .groups(12)
        .app_users(40)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    let sync = directory_core::SyncOptions::default();
    let first = okta.sync(None, &sync).await.unwrap();
    assert!(first.report.round.is_full());
    let full_requests = org.total_requests();

    let (renamed, leaver, group) = (
        first.snapshot.users[3].id.clone(),
        first.snapshot.users[4].id.clone(),
        first.snapshot.groups[2].id.clone(),
    );
    org.mutate(|d| {
        let now = Some(Utc::now());
        let mut newcomer = d.users[0].clone();
        newcomer.id = "00uNEWCOMER000000000".into();
        newcomer.last_updated = now;
        d.users.push(newcomer);
        let u = d.users.iter_mut().find(|u| u.id == renamed).unwrap();
        u.name.family_name = Some("Renamed".into());
        u.last_updated = now;
        let u = d.users.iter_mut().find(|u| u.id == leaver).unwrap();
        u.status = UserStatus::Deprovisioned;
        u.last_updated = now;
        let g = d.groups.iter_mut().find(|g| g.id == group).unwrap();
        g.last_membership_updated = now;
        d.memberships
            .retain(|m| !(m.group_id == group && m.user_id == leaver));
        d.memberships
            .push(Membership::direct(group.clone(), "00uNEWCOMER000000000"));
    });

    let before = org.total_requests();
    let second = next_round(&okta, &first).await;
    let incremental_requests = org.total_requests() - before;
    assert_eq!(second.report.round, directory_core::RoundKind::Incremental);
    let full = okta.snapshot().await.unwrap();
    assert!(second.snapshot.same_directory(&full), "incremental == full");
    assert!(second.snapshot.same_directory(&org.ground_truth()));
    let c = second.report.changes;
    assert_eq!((c.users_added, c.users_changed), (1, 2), "{c:?}");
    assert!(
        incremental_requests < full_requests / 2,
        "{incremental_requests} requests for a small change (a full round took {full_requests})"
    );

    let third = next_round(&okta, &second).await;
    assert_eq!(third.report.round, directory_core::RoundKind::Incremental);
    assert!(third.snapshot.same_directory(&full));
}
