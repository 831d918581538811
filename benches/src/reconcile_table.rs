//! The reconcile rows of the figures table.

use std::time::Duration;

use peak_alloc::PeakAlloc;
use recipient_reconcile::Policy;

use crate::reconcile::{self, SteadyState};
use crate::table::{best_of, mib, rate, secs, Row};

/// Steady state, first run, the seeds' example and (with `BENCH_SCALE=1`)
/// the 1,000,000 x 10 streaming case.
pub fn rows(peak: &PeakAlloc) -> Vec<Row> {
    let mut rows = Vec::new();
    eprintln!("reconcile: building 100,000 x 10 steady state...");
    rows.extend(steady(
        100_000,
        10,
        "steady 100k users x 10 locations vs 1M records, 1% changed",
        true,
    ));
    rows.extend(steady(
        10_000,
        10,
        "seeds' example 10k x 10 vs 100k records, 1% changed",
        false,
    ));
    rows.push(first_run(100_000, 10));
    if std::env::var("BENCH_SCALE").is_ok_and(|v| v == "1") {
        rows.push(scale(peak, 1_000_000, 10));
    }
    for r in &rows {
        eprintln!(
            "  {}: {} (floor {}, {})",
            r.figure, r.measured, r.floor, r.ratio
        );
    }
    rows
}

fn steady(users: usize, locs: usize, name: &str, with_goals: bool) -> Vec<Row> {
    let s = SteadyState::new(users, locs);
    let n = s.record_count();
    let (t, ops) = best_of(5, || s.run());
    let (f, found) = best_of(5, || s.run_floor());
    assert_eq!(found, n, "the floor must find every record");
    assert_eq!(
        ops,
        s.changed * locs,
        "one update per changed user per location"
    );
    let per_sec = n as f64 / t.as_secs_f64();
    let ratio = t.as_secs_f64() / f.as_secs_f64();
    vec![
        Row {
            figure: format!("reconcile {name}: records/s, one core"),
            measured: rate(n, t),
            floor: rate(n, f),
            ratio: format!("{ratio:.2}x floor time"),
            goal: if with_goals {
                ">= 3 M/s, <= 3x floor".into()
            } else {
                "-".into()
            },
            met: with_goals.then_some(per_sec >= 3e6 && ratio <= 3.0),
        },
        Row {
            figure: format!("reconcile {name}: time"),
            measured: secs(t),
            floor: secs(f),
            ratio: format!("{ratio:.2}x"),
            goal: "-".into(),
            met: None,
        },
    ]
}

fn first_run(users: usize, locs: usize) -> Row {
    let snapshot = reconcile::directory(users);
    let policy = Policy::default();
    let locations = reconcile::locations(locs);
    let (t, creates) = best_of(3, || {
        let r = reconcile::reconciler(&snapshot, &policy);
        locations
            .iter()
            .map(|l| reconcile::plan(&r, l, &[]).operations.len())
            .sum::<usize>()
    });
    assert_eq!(creates, users * locs);
    Row {
        figure: format!("reconcile first run {users} x {locs}: creates/s"),
        measured: format!("{} ({})", rate(creates, t), secs(t)),
        floor: "-".into(),
        ratio: "-".into(),
        goal: "-".into(),
        met: None,
    }
}

/// 1,000,000 users x 10 locations against 10,000,000 records that arrive one
/// location at a time: only one location's records are alive at once.
fn scale(peak: &PeakAlloc, users: usize, locs: usize) -> Row {
    eprintln!("reconcile: scale case {users} x {locs}...");
    let base = peak.current_usage();
    let mut snapshot = reconcile::directory(users);
    let snapshot_bytes = peak.current_usage().saturating_sub(base);
    reconcile::change_every(&mut snapshot, 100);
    let policy = Policy::default();
    let r = reconcile::reconciler(&snapshot, &policy);
    let after_reconciler = peak.current_usage().saturating_sub(base);
    let mut largest_location = 0usize;
    let mut total = Duration::ZERO;
    peak.reset_peak_usage();
    for location in reconcile::locations(locs) {
        let before = peak.current_usage();
        let records = reconcile::fresh_records(users, &location);
        largest_location = largest_location.max(peak.current_usage().saturating_sub(before));
        let (t, plan) = best_of(1, || reconcile::plan(&r, &location, &records));
        total += t;
        assert_eq!(plan.operations.len(), users / 100);
    }
    let peak_bytes = peak.peak_usage().saturating_sub(base);
    let expected = after_reconciler + largest_location;
    let ratio = peak_bytes as f64 / expected as f64;
    Row {
        figure: format!(
            "reconcile scale {users} x {locs} vs {}M records streamed by location: peak heap",
            users * locs / 1_000_000
        ),
        measured: format!("{} (planning {})", mib(peak_bytes), secs(total)),
        floor: format!(
            "snapshot {} + reconciler index {} + one location {}",
            mib(snapshot_bytes),
            mib(after_reconciler - snapshot_bytes),
            mib(largest_location)
        ),
        ratio: format!("{ratio:.2}x"),
        goal: "near snapshot + one location".into(),
        met: Some(ratio <= 1.5),
    }
}
