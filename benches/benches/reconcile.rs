//! Reconcile throughput: steady state, first run, the seeds' example, and
//! the floor (hash map of existing keys + one lookup per desired key).

#![allow(missing_docs)] // criterion_group! generates undocumented functions.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use directory_sync_benches::reconcile::{self, SteadyState};
use recipient_reconcile::Policy;

fn steady_state(c: &mut Criterion) {
    let scenario = SteadyState::new(100_000, 10);
    let mut g = c.benchmark_group("reconcile/steady_100k_x10_1pct");
    g.sample_size(10);
    g.throughput(Throughput::Elements(scenario.record_count() as u64));
    g.bench_function("reconcile", |b| b.iter(|| scenario.run()));
    g.bench_function("floor_hashmap_lookup", |b| b.iter(|| scenario.run_floor()));
    g.finish();
}

fn first_run(c: &mut Criterion) {
    let policy = Policy::default();
    let mut g = c.benchmark_group("reconcile/first_run");
    g.sample_size(10);
    for (users, locs) in [(10_000usize, 10usize), (100_000, 10)] {
        let snapshot = reconcile::directory(users);
        let locations = reconcile::locations(locs);
        g.throughput(Throughput::Elements((users * locs) as u64));
        g.bench_function(format!("{users}x{locs}_all_creates"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let r = reconcile::reconciler(&snapshot, &policy);
                    locations
                        .iter()
                        .map(|l| reconcile::plan(&r, l, &[]).operations.len())
                        .sum::<usize>()
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn seeds_example(c: &mut Criterion) {
    let scenario = SteadyState::new(10_000, 10);
    let mut g = c.benchmark_group("reconcile/seeds_10k_x10_1pct");
    g.throughput(Throughput::Elements(scenario.record_count() as u64));
    g.bench_function("reconcile", |b| b.iter(|| scenario.run()));
    g.bench_function("floor_hashmap_lookup", |b| b.iter(|| scenario.run_floor()));
    g.finish();
}

criterion_group!(benches, seeds_example, steady_state, first_run);
criterion_main!(benches);
