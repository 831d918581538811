//! The benchmark scenarios are what they claim to be.

use std::time::Duration;

use directory_sync_benches::fetch::{self, OrgSize};
use directory_sync_benches::fetch_table::CONCURRENCY;
use directory_sync_benches::incremental::{self, RoundFigures, Scenario};
use directory_sync_benches::reconcile::{self, SteadyState};
use peak_alloc::PeakAlloc;
use recipient_reconcile::Policy;

#[test]
fn directly_built_records_are_in_sync_with_the_directory() {
    let snapshot = reconcile::directory(500);
    let policy = Policy::default();
    let r = reconcile::reconciler(&snapshot, &policy);
    for location in reconcile::locations(2) {
        let direct = reconcile::synced_records(&snapshot, &location);
        assert!(reconcile::plan(&r, &location, &direct).is_empty());
        let mut by_plan = reconcile::synced_records_by_plan(&r, &location);
        let mut direct = direct;
        by_plan.iter_mut().for_each(|x| x.id.clear());
        direct.iter_mut().for_each(|x| x.id.clear());
        by_plan.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        assert_eq!(direct, by_plan);
    }
}

#[test]
fn steady_state_changes_one_percent() {
    let s = SteadyState::new(1_000, 3);
    assert_eq!(s.changed, 10);
    assert_eq!(s.record_count(), 3_000);
    assert_eq!(s.run(), 30, "one update per changed user per location");
    assert_eq!(s.run_floor(), 3_000);
}

/// A small org for the second-sync rows: 3,000 users, so 1% is 30.
fn small() -> OrgSize {
    OrgSize {
        users: 3_000,
        groups: 40,
        memberships_per_user: 3,
        app_users: 1_200,
        latency: Duration::ZERO,
    }
}

/// Each second sync was incremental, within the table's goal, and at or
/// above its floor (a floor above what was measured would be wrong).
fn assert_rounds(rounds: &[RoundFigures], expected: usize) {
    assert_eq!(rounds.len(), expected, "{rounds:#?}");
    for r in rounds {
        assert_eq!(r.full_reason, None, "{r:#?}");
        assert!(r.requests_met(), "over the goal's bound: {r:#?}");
        assert!(r.requests >= r.floor.requests(), "below its floor: {r:#?}");
        match r.scenario {
            Scenario::Unchanged => assert!(r.changes.is_empty(), "{r:#?}"),
            Scenario::OnePercent => {
                let c = r.changes;
                assert!(c.users_changed + c.users_added >= 20, "{r:#?}");
                assert!(c.memberships_added + c.memberships_removed >= 1, "{r:#?}");
            }
        }
    }
}

#[tokio::test]
async fn okta_second_syncs_stay_within_their_request_bounds() {
    let rounds = incremental::okta(small(), CONCURRENCY).await;
    assert_rounds(&rounds, 4);
    // The System Log costs one page; the app's users are read in full.
    let unchanged: Vec<_> = rounds
        .iter()
        .filter(|r| r.scenario == Scenario::Unchanged)
        .map(|r| r.requests)
        .collect();
    assert_eq!(unchanged, [2 + 1 + 3, 2 + 3], "{rounds:#?}");
}

#[tokio::test]
async fn entra_second_syncs_stay_within_their_request_bounds() {
    let (_, rounds) = fetch::azure(small(), CONCURRENCY, &PeakAlloc).await;
    assert_rounds(&rounds, 2);
}
