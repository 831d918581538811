//! Decode throughput (typed vs `serde_json::Value`) and a small fetch from
//! each simulated organisation with 20 ms latency per request.

#![allow(missing_docs)] // criterion_group! generates undocumented functions.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use directory_sync_benches::decode::{graph_typed, okta_typed, value_floor, Pages};
use directory_sync_benches::fetch::{self, OrgSize};
use peak_alloc::PeakAlloc;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

fn decode(c: &mut Criterion) {
    let pages = runtime().block_on(Pages::generate(10));
    let mut g = c.benchmark_group("decode/okta_users_200");
    g.throughput(Throughput::Bytes(pages.okta_bytes() as u64));
    g.bench_function("typed", |b| b.iter(|| okta_typed(&pages.okta)));
    g.bench_function("serde_json_value", |b| b.iter(|| value_floor(&pages.okta)));
    g.finish();
    let mut g = c.benchmark_group("decode/graph_users_999");
    g.throughput(Throughput::Bytes(pages.graph_bytes() as u64));
    g.bench_function("typed", |b| b.iter(|| graph_typed(&pages.graph)));
    g.bench_function("serde_json_value", |b| b.iter(|| value_floor(&pages.graph)));
    g.finish();
}

fn fetch(c: &mut Criterion) {
    let rt = runtime();
    let size = OrgSize {
        users: 5_000,
        groups: 100,
        app_users: 250,
        ..OrgSize::issue()
    };
    let mut g = c.benchmark_group("fetch/5k_users_20ms");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("okta", |b| {
        b.iter(|| rt.block_on(fetch::okta(size, 8, &PEAK)).wall)
    });
    g.bench_function("azure", |b| {
        b.iter(|| rt.block_on(fetch::azure(size, 8, &PEAK)).0.wall)
    });
    g.finish();
}

criterion_group!(benches, decode, fetch);
criterion_main!(benches);
