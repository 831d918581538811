//! Issue 15's property for Entra: whatever changes between rounds, the
//! snapshot an incremental round (Graph delta queries) builds equals a full
//! collection of the same tenant and the tenant's ground truth.

use azure_directory::testkit::{MemberType, ADMIN_ROLE};
use azure_directory::testkit::{SimGroup, SimMember, SimulatedTenant, TenantHandle, TenantMut};
use azure_directory::AzureDirectory;
use directory_core::{
    DirectoryProviderExt, RoundKind, Snapshot, SnapshotChanges, SyncOptions, SyncRound, SyncState,
};
use proptest::prelude::*;

/// One change an admin makes between two rounds. The numbers pick among
/// what exists when the change is made (modulo the count).
#[derive(Debug, Clone)]
enum Change {
    CreateUser,
    UpdateUser(usize),
    /// Sign-in blocked (`accountEnabled: false`).
    SuspendUser(usize),
    /// Sign-in allowed again.
    ReactivateUser(usize),
    /// What offboarding in Entra does short of deleting: sign-in blocked,
    /// out of every group, no app access.
    DeprovisionUser(usize),
    DeleteUser(usize),
    AddMember {
        group: usize,
        user: usize,
    },
    /// A group nested in another (cycles allowed, as in the generated data).
    NestGroup {
        parent: usize,
        child: usize,
    },
    RemoveMember {
        group: usize,
        member: usize,
    },
    CreateGroup,
    RenameGroup(usize),
    DeleteGroup(usize),
    AssignUser {
        user: usize,
        admin: bool,
    },
    AssignGroup {
        group: usize,
        admin: bool,
    },
    Unassign(usize),
}

fn change() -> impl Strategy<Value = Change> {
    let n = || 0..1000usize;
    prop_oneof![
        Just(Change::CreateUser),
        n().prop_map(Change::UpdateUser),
        n().prop_map(Change::SuspendUser),
        n().prop_map(Change::ReactivateUser),
        n().prop_map(Change::DeprovisionUser),
        n().prop_map(Change::DeleteUser),
        (n(), n()).prop_map(|(group, user)| Change::AddMember { group, user }),
        (n(), n()).prop_map(|(parent, child)| Change::NestGroup { parent, child }),
        (n(), n()).prop_map(|(group, member)| Change::RemoveMember { group, member }),
        Just(Change::CreateGroup),
        n().prop_map(Change::RenameGroup),
        n().prop_map(Change::DeleteGroup),
        (n(), any::<bool>()).prop_map(|(user, admin)| Change::AssignUser { user, admin }),
        (n(), any::<bool>()).prop_map(|(group, admin)| Change::AssignGroup { group, admin }),
        n().prop_map(Change::Unassign),
    ]
}

fn nth<T>(items: &[T], i: usize) -> Option<&T> {
    items.get(i.checked_rem(items.len())?)
}

fn user_id(m: &TenantMut<'_>, i: usize) -> Option<String> {
    nth(&m.data().users, i).map(|u| u.id.clone())
}

fn group_id(m: &TenantMut<'_>, i: usize) -> Option<String> {
    nth(&m.data().groups, i).map(|g| g.id.clone())
}

fn role(admin: bool) -> Option<&'static str> {
    admin.then_some(ADMIN_ROLE)
}

/// Applies one change through the testkit's mutation API; a change that
/// finds nothing to act on does nothing.
fn apply(m: &mut TenantMut<'_>, change: &Change, serial: usize) {
    match *change {
        Change::CreateUser => {
            let u = m.new_user(&format!("new{serial}"));
            m.add_user(u);
        }
        Change::UpdateUser(i) => {
            if let Some(id) = user_id(m, i) {
                m.update_user(&id, |u| {
                    u.display_name = Some(format!("Renamed {serial}"));
                    u.department = Some(format!("Dept {serial}"));
                });
            }
        }
        Change::SuspendUser(i) | Change::ReactivateUser(i) => {
            let enabled = matches!(change, Change::ReactivateUser(_));
            if let Some(id) = user_id(m, i) {
                m.update_user(&id, |u| u.account_enabled = enabled);
            }
        }
        Change::DeprovisionUser(i) => {
            if let Some(id) = user_id(m, i) {
                deprovision(m, &id);
            }
        }
        Change::DeleteUser(i) => {
            if let Some(id) = user_id(m, i) {
                m.delete_user(&id);
            }
        }
        _ => apply_group_change(m, change, serial),
    }
}

fn deprovision(m: &mut TenantMut<'_>, id: &str) {
    m.update_user(id, |u| u.account_enabled = false);
    let groups: Vec<String> = m
        .data()
        .members
        .iter()
        .filter(|(_, list)| list.iter().any(|x| x.id == id))
        .map(|(g, _)| g.clone())
        .collect();
    for g in groups {
        m.remove_member(&g, id);
    }
    m.unassign(id);
}

fn apply_group_change(m: &mut TenantMut<'_>, change: &Change, serial: usize) {
    match *change {
        Change::AddMember { group, user } => {
            if let (Some(g), Some(id)) = (group_id(m, group), user_id(m, user)) {
                let kind = MemberType::User;
                m.add_member(&g, SimMember { id, kind });
            }
        }
        Change::NestGroup { parent, child } => {
            let (Some(p), Some(id)) = (group_id(m, parent), group_id(m, child)) else {
                return;
            };
            if p != id {
                let kind = MemberType::Group;
                m.add_member(&p, SimMember { id, kind });
            }
        }
        Change::RemoveMember { group, member } => {
            let Some(g) = group_id(m, group) else { return };
            let list = m.data().members.get(&g).cloned().unwrap_or_default();
            if let Some(x) = nth(&list, member) {
                m.remove_member(&g, &x.id);
            }
        }
        Change::CreateGroup => {
            let id = m.new_id();
            m.add_group(SimGroup {
                id,
                display_name: format!("Team {serial}"),
                security_enabled: true,
                ..SimGroup::default()
            });
        }
        Change::RenameGroup(i) => {
            if let Some(id) = group_id(m, i) {
                m.update_group(&id, |g| g.display_name = format!("Renamed {serial}"));
            }
        }
        Change::DeleteGroup(i) => {
            if let Some(id) = group_id(m, i) {
                m.delete_group(&id);
            }
        }
        _ => apply_assignment_change(m, change),
    }
}

fn apply_assignment_change(m: &mut TenantMut<'_>, change: &Change) {
    match *change {
        Change::AssignUser { user, admin } => {
            if let Some(id) = user_id(m, user) {
                m.assign(&id, "User", role(admin));
            }
        }
        Change::AssignGroup { group, admin } => {
            if let Some(id) = group_id(m, group) {
                m.assign(&id, "Group", role(admin));
            }
        }
        Change::Unassign(i) => {
            let principal = nth(&m.data().assignments, i).map(|a| a.principal_id.clone());
            if let Some(p) = principal {
                m.unassign(&p);
            }
        }
        _ => {}
    }
}

async fn next(azure: &AzureDirectory, prev: &SyncRound) -> SyncRound {
    let state = SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    azure
        .sync(Some((&prev.snapshot, &state)), &SyncOptions::default())
        .await
        .unwrap()
}

/// What differs, for a failing case's message.
fn differs(what: &str, expected: &Snapshot, got: &Snapshot) -> Option<String> {
    (!got.same_directory(expected))
        .then(|| format!("{what}: {:?}", SnapshotChanges::between(expected, got)))
}

async fn tenant(seed: u64) -> (TenantHandle, AzureDirectory) {
    let t = SimulatedTenant::builder()
        .seed(seed)
        .users(40)
        .groups(6)
        .memberships_per_user(2)
        .app_users(8)
        .start()
        .await
        .unwrap();
    let azure = t.provider().unwrap();
    (t, azure)
}

/// Runs the rounds; the first failure found, as text.
async fn check(seed: u64, rounds: &[Vec<Change>]) -> Option<String> {
    let (t, azure) = tenant(seed).await;
    let mut prev = azure.sync(None, &SyncOptions::default()).await.unwrap();
    let mut serial = 0;
    for (n, changes) in rounds.iter().enumerate() {
        t.mutate(|m| {
            for c in changes {
                serial += 1;
                apply(m, c, serial);
            }
        });
        t.reset_requests();
        let round = next(&azure, &prev).await;
        if round.report.round != RoundKind::Incremental {
            return Some(format!("round {n} was {:?}", round.report.round));
        }
        let served = t.requests().total;
        if round.report.requests != Some(served) {
            return Some(format!(
                "round {n}: {:?} reported, {served} served",
                round.report.requests
            ));
        }
        let full = azure.snapshot().await.unwrap();
        let failure = differs("ground truth", &t.ground_truth(), &round.snapshot)
            .or_else(|| differs("full collection", &full, &round.snapshot));
        if let Some(f) = failure {
            return Some(format!("round {n} after {changes:?}: {f}"));
        }
        prev = round;
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn every_incremental_round_equals_a_full_collection_of_the_same_tenant(
        seed in any::<u64>(),
        rounds in prop::collection::vec(prop::collection::vec(change(), 0..6), 1..5),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let failure = rt.block_on(check(seed, &rounds));
        prop_assert!(failure.is_none(), "{}", failure.unwrap_or_default());
    }
}
