//! The benchmark scenarios are what they claim to be.

use directory_sync_benches::reconcile::{self, SteadyState};
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
