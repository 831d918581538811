//! Issue 15's property for Entra: whatever changes between rounds, the
//! snapshot an incremental round (Graph delta queries) builds equals a full
//! collection of the same tenant and the tenant's ground truth.

use azure_directory::testkit::{MemberType, ADMIN_ROLE};
use azure_directory::testkit::{SimMember, SimulatedTenant, TenantHandle, TenantMut};
use azure_directory::AzureDirectory;
use directory_core::testing::{Change, SimulatedDirectory};
use directory_core::{
    DirectoryProviderExt, RoundKind, Snapshot, SnapshotChanges, SyncOptions, SyncRound, SyncState,
};
use proptest::prelude::*;

/// One change an admin makes between two rounds: a provider-neutral one
/// picked by numbers ([`Change::arbitrary`]), or one only Entra has. The
/// numbers pick among what exists when the change is made (modulo the
/// count).
#[derive(Debug, Clone)]
enum Step {
    Neutral(usize, usize, usize),
    /// A group nested in another (cycles allowed, as in the generated data).
    NestGroup {
        parent: usize,
        child: usize,
    },
    /// What offboarding in Entra does short of deleting: sign-in blocked,
    /// out of every group, no app access.
    Offboard(usize),
    /// A user or group assigned the app's admin role.
    AssignAdmin {
        principal: usize,
        group: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let n = || 0..1000usize;
    prop_oneof![
        8 => (0..Change::KINDS, n(), n()).prop_map(|(k, a, b)| Step::Neutral(k, a, b)),
        1 => (n(), n()).prop_map(|(parent, child)| Step::NestGroup { parent, child }),
        1 => n().prop_map(Step::Offboard),
        1 => (n(), any::<bool>()).prop_map(|(principal, group)| Step::AssignAdmin { principal, group }),
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

/// Applies one step; one that finds nothing to act on does nothing. What
/// was applied, for a failing case's message.
fn apply(t: &TenantHandle, step: &Step, serial: usize) -> Option<String> {
    if let Step::Neutral(which, a, b) = *step {
        let c = Change::arbitrary(which, a, b, &t.ground_truth(), serial)?;
        return t.apply(&c).then(|| format!("{c:?}"));
    }
    t.mutate(|m| apply_entra(m, step));
    Some(format!("{step:?}"))
}

fn apply_entra(m: &mut TenantMut<'_>, step: &Step) {
    match *step {
        Step::NestGroup { parent, child } => {
            let (Some(p), Some(id)) = (group_id(m, parent), group_id(m, child)) else {
                return;
            };
            if p != id {
                let kind = MemberType::Group;
                m.add_member(&p, SimMember { id, kind });
            }
        }
        Step::Offboard(i) => {
            if let Some(id) = user_id(m, i) {
                offboard(m, &id);
            }
        }
        Step::AssignAdmin { principal, group } => {
            let (id, kind) = if group {
                (group_id(m, principal), "Group")
            } else {
                (user_id(m, principal), "User")
            };
            if let Some(id) = id {
                m.assign(&id, kind, Some(ADMIN_ROLE));
            }
        }
        Step::Neutral(..) => {}
    }
}

fn offboard(m: &mut TenantMut<'_>, id: &str) {
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

/// The next round, with the previous pair handed over (`sync_owned`, which
/// moves the unchanged parts) and again lent (`sync`): both must give the
/// same snapshot and the same report. The tenant's request count is reset
/// between them, so it holds the lent round's requests.
async fn next(azure: &AzureDirectory, t: &TenantHandle, prev: &SyncRound) -> SyncRound {
    let state = SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    let options = SyncOptions::default();
    let given = azure
        .sync_owned(Some((prev.snapshot.clone(), state.clone())), &options)
        .await
        .unwrap();
    t.reset_requests();
    let lent = azure
        .sync(Some((&prev.snapshot, &state)), &options)
        .await
        .unwrap();
    assert!(given.snapshot.same_directory(&lent.snapshot));
    assert_eq!(given.report, lent.report);
    lent
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
async fn check(seed: u64, rounds: &[Vec<Step>]) -> Option<String> {
    let (t, azure) = tenant(seed).await;
    let mut prev = azure.sync(None, &SyncOptions::default()).await.unwrap();
    let mut serial = 0;
    for (n, steps) in rounds.iter().enumerate() {
        let mut changes = Vec::new();
        for s in steps {
            serial += 1;
            changes.extend(apply(&t, s, serial));
        }
        t.reset_requests();
        let round = next(&azure, &t, &prev).await;
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
        rounds in prop::collection::vec(prop::collection::vec(step(), 0..6), 1..5),
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
