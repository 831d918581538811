//! Property: for random provider-neutral changes between rounds
//! (`directory_core::testing::Change`: create, update, suspend, reactivate,
//! deprovision and delete users; add and remove members; create, rename and
//! delete groups; assign and unassign the app), an incremental round's
//! snapshot equals a full collection of the same org. With `okta.logs.read`
//! after every round; without it, whenever no deletion happened since the
//! last full round, and it never drops a user who is in the directory.

use chrono::Duration;
use directory_core::testing::{Change, SimulatedDirectory};
use directory_core::{DirectoryProviderExt, Snapshot, SyncOptions, SyncRound, SyncState};
use okta_directory::testkit::{Misconfig, OktaOrg};
use okta_directory::OktaDirectory;
use proptest::prelude::*;

/// A provider-neutral change, picked by numbers ([`Change::arbitrary`]).
type Pick = (usize, usize, usize);

fn pick() -> impl Strategy<Value = Pick> {
    (0..Change::KINDS, 0usize..1_000, 0usize..1_000)
}

/// The next round, with the previous pair lent (`sync`) and again handed
/// over (`sync_owned`, which moves the unchanged parts): both must give the
/// same snapshot and the same report.
async fn next(okta: &OktaDirectory, prev: &SyncRound, sync: &SyncOptions) -> SyncRound {
    let state = SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    let lent = okta
        .sync(Some((&prev.snapshot, &state)), sync)
        .await
        .unwrap();
    let given = okta
        .sync_owned(Some((prev.snapshot.clone(), state)), sync)
        .await
        .unwrap();
    assert!(given.snapshot.same_directory(&lent.snapshot));
    assert_eq!(given.report, lent.report);
    lent
}

/// No user of the directory is missing from the snapshot.
fn drops_no_user(snapshot: &Snapshot, truth: &Snapshot) -> bool {
    truth.users.iter().all(|u| snapshot.user(&u.id).is_some())
}

/// Runs the rounds; `log` says whether the app holds `okta.logs.read`.
fn run(rounds: Vec<Vec<Pick>>, log: bool) -> Result<(), TestCaseError> {
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
        for picks in rounds {
            let mut changes = Vec::new();
            for (which, a, b) in picks {
                n += 1;
                let truth = org.ground_truth();
                let Some(c) = Change::arbitrary(which, a, b, &truth, n) else {
                    continue;
                };
                if org.apply(&c) {
                    deleted_since_full |= c.deletes();
                    changes.push(c);
                }
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

fn rounds() -> impl Strategy<Value = Vec<Vec<Pick>>> {
    prop::collection::vec(prop::collection::vec(pick(), 0..6), 4)
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
