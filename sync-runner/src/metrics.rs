//! Counters a host can export (Prometheus, OpenTelemetry, logs).

use std::sync::atomic::{AtomicU64, Ordering};

/// The runner's counters, shared by its workers and approvals.
#[derive(Debug, Default)]
pub struct Metrics {
    runs_started: AtomicU64,
    runs_failed: AtomicU64,
    plans_applied: AtomicU64,
    plans_held: AtomicU64,
    leases_lost: AtomicU64,
    full_rounds: AtomicU64,
    incremental_rounds: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Runs started (syncs and approvals).
    pub runs_started: u64,
    /// Runs that failed.
    pub runs_failed: u64,
    /// Plans applied to the host.
    pub plans_applied: u64,
    /// Plans held for review.
    pub plans_held: u64,
    /// Runs whose lease lapsed before they could write.
    pub leases_lost: u64,
    /// Full rounds read.
    pub full_rounds: u64,
    /// Incremental rounds read.
    pub incremental_rounds: u64,
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    RunsStarted,
    RunsFailed,
    PlansApplied,
    PlansHeld,
    LeasesLost,
    FullRounds,
    IncrementalRounds,
}

impl Metrics {
    pub(crate) fn bump(&self, counter: Counter) {
        let c = match counter {
            Counter::RunsStarted => &self.runs_started,
            Counter::RunsFailed => &self.runs_failed,
            Counter::PlansApplied => &self.plans_applied,
            Counter::PlansHeld => &self.plans_held,
            Counter::LeasesLost => &self.leases_lost,
            Counter::FullRounds => &self.full_rounds,
            Counter::IncrementalRounds => &self.incremental_rounds,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            runs_started: get(&self.runs_started),
            runs_failed: get(&self.runs_failed),
            plans_applied: get(&self.plans_applied),
            plans_held: get(&self.plans_held),
            leases_lost: get(&self.leases_lost),
            full_rounds: get(&self.full_rounds),
            incremental_rounds: get(&self.incremental_rounds),
        }
    }
}
