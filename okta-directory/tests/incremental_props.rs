//! Property: for random changes between rounds (create, update, suspend,
//! deprovision and delete users; add and remove members; create, rename and
//! delete groups; assign and unassign the app), an incremental round's
//! snapshot equals a full collection of the same org. With `okta.logs.read`
//! after every round; without it, whenever no deletion happened since the
//! last full round, and it never drops a user who is in the directory.

use chrono::Duration;
use directory_core::{
    AppAssignment, DirectoryData, DirectoryGroup, DirectoryProviderExt, Membership, Snapshot,
    SyncOptions, SyncRound, SyncState, UserStatus,
};
use okta_directory::testkit::{Misconfig, OktaOrg};
use okta_directory::OktaDirectory;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Change {
    CreateUser,
    UpdateUser(usize),
    SuspendUser(usize),
    DeprovisionUser(usize),
    DeleteUser(usize),
    AddMember(usize, usize),
    RemoveMember(usize),
    CreateGroup,
    RenameGroup(usize),
    DeleteGroup(usize),
    Assign(usize),
    Unassign(usize),
}

impl Change {
    fn deletes(&self) -> bool {
        matches!(self, Change::DeleteUser(_) | Change::DeleteGroup(_))
    }
}

fn change() -> impl Strategy<Value = Change> {
    let i = 0usize..1_000;
    prop_oneof![
        Just(Change::CreateUser),
        i.clone().prop_map(Change::UpdateUser),
        i.clone().prop_map(Change::SuspendUser),
        i.clone().prop_map(Change::DeprovisionUser),
        i.clone().prop_map(Change::DeleteUser),
        (i.clone(), i.clone()).prop_map(|(u, g)| Change::AddMember(u, g)),
        i.clone().prop_map(Change::RemoveMember),
        Just(Change::CreateGroup),
        i.clone().prop_map(Change::RenameGroup),
        i.clone().prop_map(Change::DeleteGroup),
        i.clone().prop_map(Change::Assign),
        i.prop_map(Change::Unassign),
    ]
}

/// Applies one change as an admin would; `n` makes new ids unique.
fn apply(d: &mut DirectoryData, c: &Change, n: usize) {
    let user =
        |d: &DirectoryData, i: usize| d.users.get(i % d.users.len().max(1)).map(|u| u.id.clone());
    match c {
        Change::CreateUser => {
            let mut u = d.users[0].clone();
            u.id = format!("00uPROP{n:013}");
            u.user_name = format!("prop{n}@example.test");
            d.users.push(u);
        }
        Change::UpdateUser(i) | Change::SuspendUser(i) | Change::DeprovisionUser(i) => {
            let len = d.users.len();
            if let Some(u) = d.users.get_mut(i % len.max(1)) {
                match c {
                    Change::SuspendUser(_) => u.status = UserStatus::Suspended,
                    Change::DeprovisionUser(_) => u.status = UserStatus::Deprovisioned,
                    _ => u.title = Some(format!("Title {n}").into()),
                }
            }
        }
        Change::DeleteUser(i) if d.users.len() > 1 => {
            d.users.remove(i % d.users.len());
        }
        Change::AddMember(u, g) => {
            if let (Some(u), Some(g)) = (user(d, *u), d.groups.get(g % d.groups.len().max(1))) {
                d.memberships.push(Membership::direct(g.id.clone(), u));
            }
        }
        Change::RemoveMember(i) if !d.memberships.is_empty() => {
            d.memberships.remove(i % d.memberships.len());
        }
        Change::CreateGroup => d.groups.push(DirectoryGroup::new(
            format!("00gPROP{n:013}"),
            format!("New {n}"),
        )),
        Change::RenameGroup(i) => {
            let len = d.groups.len();
            if let Some(g) = d.groups.get_mut(i % len.max(1)) {
                g.name = format!("Renamed {n}");
            }
        }
        Change::DeleteGroup(i) if !d.groups.is_empty() => {
            d.groups.remove(i % d.groups.len());
        }
        Change::Assign(i) => {
            let group = d.groups.first().map(|g| g.id.clone());
            if let Some(u) = user(d, *i) {
                d.app_assignments.push(match (i % 2, group) {
                    (0, Some(g)) => AppAssignment::via_group(u, g),
                    _ => AppAssignment::direct(u),
                });
            }
        }
        Change::Unassign(i) if !d.app_assignments.is_empty() => {
            d.app_assignments.remove(i % d.app_assignments.len());
        }
        _ => {}
    }
}

async fn next(okta: &OktaDirectory, prev: &SyncRound, sync: &SyncOptions) -> SyncRound {
    let state = SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    okta.sync(Some((&prev.snapshot, &state)), sync)
        .await
        .unwrap()
}

/// No user of the directory is missing from the snapshot.
fn drops_no_user(snapshot: &Snapshot, truth: &Snapshot) -> bool {
    truth.users.iter().all(|u| snapshot.user(&u.id).is_some())
}

/// Runs the rounds; `log` says whether the app holds `okta.logs.read`.
fn run(rounds: Vec<Vec<Change>>, log: bool) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let org = OktaOrg::builder()
            .users(25)
            .groups(4)
            .app_users(8)
            .start()
            .await
            .unwrap();
        if !log {
            let granted = ["okta.users.read", "okta.groups.read", "okta.apps.read"];
            org.misconfigure(Misconfig::GrantedScopes(granted.map(String::from).to_vec()));
        }
        let okta = org.provider_builder().system_log(true).build().unwrap();
        let sync = SyncOptions {
            full_every: if log { 1_000 } else { 2 },
            max_state_age: Duration::days(1),
            ..SyncOptions::default()
        };
        let mut round = okta.sync(None, &sync).await.unwrap();
        let (mut n, mut deleted_since_full) = (0, false);
        for changes in rounds {
            for c in &changes {
                n += 1;
                org.mutate(|d| apply(d, c, n));
                deleted_since_full |= c.deletes();
            }
            round = next(&okta, &round, &sync).await;
            let full = okta.snapshot().await.unwrap();
            let truth = org.ground_truth();
            prop_assert!(full.same_directory(&truth));
            prop_assert!(drops_no_user(&round.snapshot, &truth), "{:?}", round.report);
            if round.report.round.is_full() {
                deleted_since_full = false;
            }
            if log {
                prop_assert!(!round.report.round.is_full(), "{:?}", round.report);
            }
            if log || !deleted_since_full {
                prop_assert!(
                    round.snapshot.same_directory(&full),
                    "after {:?}: {:?}",
                    changes,
                    round.report
                );
            }
        }
        Ok(())
    })
}

fn rounds() -> impl Strategy<Value = Vec<Vec<Change>>> {
    prop::collection::vec(prop::collection::vec(change(), 0..6), 4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn with_the_log_every_incremental_round_equals_a_full_collection(rounds in rounds()) {
        run(rounds, true)?;
    }

    #[test]
    fn without_the_log_rounds_equal_a_full_collection_but_for_pending_deletions(
        rounds in rounds()
    ) {
        run(rounds, false)?;
    }
}
