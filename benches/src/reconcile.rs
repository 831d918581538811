//! Reconcile scenarios and their floor.
//!
//! The floor is the least any reconcile must do: build a hash map of the
//! existing records' keys and look up every desired key once. A reconcile
//! that also compares fields, decides and records operations is measured
//! against it as a ratio.

use directory_core::{DirectoryUser, Snapshot};
use recipient_reconcile::{
    apply_location, Location, LocationPlan, Policy, Recipient, Reconciler, Source,
};
use rustc_hash::FxHashMap;

/// A directory of `users` people with names and emails, in a stable order.
pub fn directory(users: usize) -> Snapshot {
    let users = (0..users).map(user).collect();
    Snapshot::from_parts("bench", users, vec![], vec![], vec![])
}

fn user(i: usize) -> DirectoryUser {
    let email = format!("user{i:07}@bench.test");
    let mut u = DirectoryUser::new(format!("00u{i:07}"), email.clone()).with_email(email, true);
    u.name.given_name = Some(format!("Given{i}").into());
    u.name.family_name = Some(format!("Family{}", i % 9973).into());
    u.display_name = Some(format!("Given{i} Family{}", i % 9973).into());
    u
}

/// `n` locations, `loc00`...
pub fn locations(n: usize) -> Vec<Location> {
    (0..n)
        .map(|i| Location::new(format!("loc{i:02}"), format!("Location {i}")))
        .collect()
}

/// The records a host has once `location` is in sync with `snapshot` under
/// the default policy: one directory-created record per user, with the
/// default mapping's fields. Built directly (no plan) so that setting up ten
/// million records stays quick; `tests/scenarios.rs` checks that a plan
/// against them is empty.
pub fn synced_records(snapshot: &Snapshot, location: &Location) -> Vec<Recipient> {
    snapshot
        .users
        .iter()
        .enumerate()
        .map(|(n, u)| synced_record(n, u, location))
        .collect()
}

/// The records of [`directory`]`(users)` before any change, built user by
/// user from the generator, so no second snapshot is held in memory.
pub fn fresh_records(users: usize, location: &Location) -> Vec<Recipient> {
    (0..users)
        .map(|i| synced_record(i, &user(i), location))
        .collect()
}

fn synced_record(n: usize, u: &DirectoryUser, location: &Location) -> Recipient {
    let mut r = Recipient::new(
        format!("{}-{n}", location.id),
        location.id.clone(),
        Source::Directory,
        u.primary_email().unwrap_or_default().to_ascii_lowercase(),
    )
    .with_external_id(u.id.clone());
    let fields = [
        ("given_name", &u.name.given_name),
        ("family_name", &u.name.family_name),
        ("display_name", &u.display_name),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            r.fields.insert(name.to_string(), v.to_string());
        }
    }
    r
}

/// The same records made the slow, sure way: the first plan applied.
pub fn synced_records_by_plan(reconciler: &Reconciler<'_>, location: &Location) -> Vec<Recipient> {
    let mut records = Vec::new();
    let plan = plan(reconciler, location, &records);
    let mut n = 0u64;
    if let Err(e) = apply_location(&mut records, &plan, |_| {
        n += 1;
        format!("{}-{n}", location.id)
    }) {
        panic!("applying the first plan: {e}");
    }
    records
}

/// Changes the display name of every `1/every`-th user (1% for `every = 100`).
pub fn change_every(snapshot: &mut Snapshot, every: usize) -> usize {
    let mut changed = 0;
    for u in snapshot.users.iter_mut().step_by(every.max(1)) {
        u.display_name =
            Some(format!("{} (changed)", u.display_name.as_deref().unwrap_or("")).into());
        changed += 1;
    }
    changed
}

/// Plans one location; panics on a safety error (benchmarks run clean data).
pub fn plan(
    reconciler: &Reconciler<'_>,
    location: &Location,
    records: &[Recipient],
) -> LocationPlan {
    match reconciler.plan_location(location, records) {
        Ok(p) => p,
        Err(e) => panic!("plan for {}: {e}", location.id),
    }
}

/// The floor: a hash map of existing keys, then one lookup per desired key.
/// Returns how many desired keys were found, so the work cannot be skipped.
pub fn floor(records: &[Recipient], desired: &[DirectoryUser]) -> usize {
    let index: FxHashMap<&str, &Recipient> = records
        .iter()
        .filter_map(|r| r.external_id.as_deref().map(|id| (id, r)))
        .collect();
    desired
        .iter()
        .filter(|u| index.contains_key(u.id.as_str()))
        .count()
}

/// The steady-state scenario: `users` x `locs`, every location in sync, then
/// 1% of users changed in the directory.
pub struct SteadyState {
    /// The changed directory.
    pub snapshot: Snapshot,
    /// The policy (all users to all locations).
    pub policy: Policy,
    /// The locations.
    pub locations: Vec<Location>,
    /// Each location's records, in sync with the directory before the change.
    pub records: Vec<Vec<Recipient>>,
    /// Users changed.
    pub changed: usize,
}

impl SteadyState {
    /// Builds the scenario (takes a while for large sizes).
    pub fn new(users: usize, locs: usize) -> Self {
        let policy = Policy::default();
        let mut snapshot = directory(users);
        let locations = locations(locs);
        let records = locations
            .iter()
            .map(|l| synced_records(&snapshot, l))
            .collect();
        let changed = change_every(&mut snapshot, 100);
        Self {
            snapshot,
            policy,
            locations,
            records,
            changed,
        }
    }

    /// Records in all locations.
    pub fn record_count(&self) -> usize {
        self.records.iter().map(Vec::len).sum()
    }

    /// Plans every location; returns the number of operations.
    pub fn run(&self) -> usize {
        let reconciler = reconciler(&self.snapshot, &self.policy);
        self.locations
            .iter()
            .zip(&self.records)
            .map(|(l, r)| plan(&reconciler, l, r).operations.len())
            .sum()
    }

    /// The floor over every location.
    pub fn run_floor(&self) -> usize {
        self.records
            .iter()
            .map(|r| floor(r, &self.snapshot.users))
            .sum()
    }
}

/// A reconciler; panics on a policy or safety error.
pub fn reconciler<'a>(snapshot: &'a Snapshot, policy: &'a Policy) -> Reconciler<'a> {
    match Reconciler::new(snapshot, policy) {
        Ok(r) => r,
        Err(e) => panic!("reconciler: {e}"),
    }
}
