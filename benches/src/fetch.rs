//! Fetch scenarios: each provider against its simulated organisation on
//! loopback with added latency, measured against the floors any client has.
//!
//! * Requests: the fewest that API allows at its largest page sizes (token
//!   requests aside), computed from the organisation's own data.
//! * Wall time: latency x the larger of the longest chain of requests that
//!   must follow one another (cursor pages of one list) and the total
//!   requests divided by the allowed concurrency.
//! * Memory: the peak heap while collecting, against the size of the
//!   snapshot's own JSON.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use azure_directory::testkit::{SimulatedTenant, TenantData, TenantHandle};
use directory_core::testing::OrgSpec;
use directory_core::{CollectOptions, Snapshot, UserStatus};
use okta_directory::testkit::OktaOrg;
use peak_alloc::PeakAlloc;

use crate::incremental::RoundFigures;

/// The organisation's shape.
#[derive(Debug, Clone, Copy)]
pub struct OrgSize {
    /// Users.
    pub users: usize,
    /// Groups.
    pub groups: usize,
    /// Group memberships per user (about).
    pub memberships_per_user: usize,
    /// Users assigned to the SSO app.
    pub app_users: usize,
    /// Latency added to every request.
    pub latency: Duration,
}

impl OrgSize {
    /// This shape as the provider-neutral spec both simulated orgs start
    /// from (seed 11, each testkit's default rate limits).
    pub fn spec(&self) -> OrgSpec {
        OrgSpec::default()
            .seed(11)
            .users(self.users)
            .groups(self.groups)
            .memberships_per_user(self.memberships_per_user)
            .app_users(self.app_users)
            .latency(self.latency)
            .rate_limits(true)
    }

    /// The simulated Okta org of this shape, as the fetch and the
    /// second-sync benches start it.
    pub async fn start_okta(&self) -> OktaOrg {
        match OktaOrg::builder().spec(&self.spec()).start().await {
            Ok(o) => o,
            Err(e) => panic!("starting the simulated Okta org: {e}"),
        }
    }

    /// The simulated Entra tenant of this shape.
    pub async fn start_azure(&self) -> TenantHandle {
        match SimulatedTenant::builder().spec(&self.spec()).start().await {
            Ok(t) => t,
            Err(e) => panic!("starting the simulated tenant: {e}"),
        }
    }

    /// The issue's size: 100,000 users, 2,000 groups, ~3 memberships per
    /// user, 5,000 app users, 20 ms per request.
    pub fn issue() -> Self {
        Self {
            users: 100_000,
            groups: 2_000,
            memberships_per_user: 3,
            app_users: 5_000,
            latency: Duration::from_millis(20),
        }
    }
}

/// What one fetch measured.
#[derive(Debug, Clone)]
pub struct FetchFigures {
    /// Provider name.
    pub provider: String,
    /// Requests made, token requests aside.
    pub requests: u64,
    /// The minimum for that API.
    pub min_requests: u64,
    /// Wall time of `Snapshot::collect`.
    pub wall: Duration,
    /// The latency floor.
    pub floor: Duration,
    /// Requests in flight the client was allowed.
    pub concurrency: usize,
    /// Longest chain of dependent requests.
    pub chain: u64,
    /// Peak heap while collecting, above what was live before.
    pub peak_bytes: usize,
    /// Heap still held right after collection: the snapshot itself.
    pub retained_bytes: usize,
    /// The snapshot's JSON size.
    pub json_bytes: usize,
    /// 429s the organisation served.
    pub throttled: u64,
    /// Users in the snapshot.
    pub users: usize,
    /// Requests per endpoint.
    pub by_endpoint: BTreeMap<String, u64>,
}

/// The fewest requests a full fetch takes (token requests aside) and the
/// longest chain of them that must follow one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchFloor {
    /// Longest chain of dependent requests.
    pub chain: u64,
    /// The fewest requests.
    pub requests: u64,
}

impl FetchFloor {
    /// Latency x the larger of the chain and the requests spread over
    /// `concurrency` in flight.
    pub fn wall(&self, latency: Duration, concurrency: usize) -> Duration {
        let spread = self.requests.div_ceil(concurrency.max(1) as u64);
        latency * self.chain.max(spread) as u32
    }

    /// Okta's, for an org whose directory is `truth`.
    pub fn okta(truth: &Snapshot) -> Self {
        let deprovisioned = truth
            .users
            .iter()
            .filter(|u| u.status == UserStatus::Deprovisioned)
            .count();
        let listed = truth.users.len() - deprovisioned;
        let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &truth.memberships {
            *per_group.entry(m.group_id.as_str()).or_default() += 1;
        }
        let member_pages: u64 = truth
            .groups
            .iter()
            .map(|g| pages(per_group.get(g.id.as_str()).copied().unwrap_or(0), 1000))
            .sum();
        let chain = pages(listed, 200) + pages(deprovisioned, 200);
        let requests =
            chain + pages(truth.groups.len(), 10_000) + member_pages + okta_app_pages(truth);
        FetchFloor { chain, requests }
    }

    /// Microsoft Graph's, for a tenant holding `data`.
    pub fn azure(data: &TenantData) -> Self {
        let member_pages: u64 = data
            .groups
            .iter()
            .map(|g| pages(data.members.get(&g.id).map_or(0, Vec::len), 999))
            .sum();
        let chain = pages(data.users.len(), 999);
        let requests = chain
            + pages(data.groups.len(), 999)
            + member_pages
            + pages(data.assignments.len(), 999);
        FetchFloor { chain, requests }
    }
}

/// Pages of `page` items that `items` take; an empty list is one page.
pub(crate) fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

/// Collects a snapshot, measuring wall time and the heap's peak above its
/// level at the start.
async fn measured_collect<P: directory_core::DirectoryProvider>(
    provider: &P,
    peak: &PeakAlloc,
) -> (Snapshot, Duration, usize, usize) {
    let base = peak.current_usage();
    peak.reset_peak_usage();
    let start = Instant::now();
    let snapshot = match Snapshot::collect(provider, &CollectOptions::default()).await {
        Ok(s) => s,
        Err(e) => panic!("collecting from {provider}: {e}"),
    };
    let wall = start.elapsed();
    let peak_bytes = peak.peak_usage().saturating_sub(base);
    let retained = peak.current_usage().saturating_sub(base);
    (snapshot, wall, peak_bytes, retained)
}

fn json_len(snapshot: &Snapshot) -> usize {
    serde_json::to_vec(snapshot).map_or(0, |v| v.len())
}

/// Okta: users (200 a page, plus the DEPROVISIONED search), groups (10,000),
/// each group's members (1,000), the app's users (500).
pub async fn okta(size: OrgSize, concurrency: usize, peak: &PeakAlloc) -> FetchFigures {
    let org = size.start_okta().await;
    let truth = org.ground_truth();
    let provider = match org.provider_builder().max_concurrency(concurrency).build() {
        Ok(p) => p,
        Err(e) => panic!("building the Okta provider: {e}"),
    };
    let floor = FetchFloor::okta(&truth);
    let before = org.total_requests() - org.requests("token");
    let (snapshot, wall, peak_bytes, retained_bytes) = measured_collect(&provider, peak).await;
    assert!(
        snapshot.same_directory(&truth),
        "the Okta snapshot differs from the org"
    );
    let mut by_endpoint = org.request_counts();
    let token = by_endpoint.remove("token").unwrap_or(0);
    let requests = org.total_requests() - token - before;
    FetchFigures {
        provider: "okta".into(),
        requests,
        min_requests: floor.requests,
        wall,
        floor: floor.wall(size.latency, concurrency),
        concurrency,
        chain: floor.chain,
        peak_bytes,
        retained_bytes,
        json_bytes: json_len(&snapshot),
        throttled: org.rate_limited(),
        users: snapshot.users.len(),
        by_endpoint,
    }
}

/// Pages of the Okta app's users (500 a page, one entry per user).
pub(crate) fn okta_app_pages(truth: &Snapshot) -> u64 {
    let mut app_users: Vec<&str> = truth
        .app_assignments
        .iter()
        .map(|a| a.user_id.as_str())
        .collect();
    app_users.dedup();
    pages(app_users.len(), 500)
}

/// Microsoft Graph: users and groups (999 a page), each group's direct
/// members (999), the app's assignments (999); nested groups are resolved
/// from members already fetched, so they cost no extra request at the floor.
/// Then the second syncs of [`crate::incremental`] on the same tenant.
pub async fn azure(
    size: OrgSize,
    concurrency: usize,
    peak: &PeakAlloc,
) -> (FetchFigures, Vec<RoundFigures>) {
    let tenant = size.start_azure().await;
    let truth = tenant.ground_truth();
    let data = tenant.data();
    let provider = match tenant
        .provider_builder()
        .max_concurrency(concurrency)
        .member_concurrency(concurrency)
        .build()
    {
        Ok(p) => p,
        Err(e) => panic!("building the Azure provider: {e}"),
    };
    let floor = FetchFloor::azure(&data);

    tenant.reset_requests();
    let (snapshot, wall, peak_bytes, retained_bytes) = measured_collect(&provider, peak).await;
    assert!(
        snapshot.same_directory(&truth),
        "the Entra snapshot differs from the tenant"
    );
    let stats = tenant.requests();
    let figures = FetchFigures {
        provider: "azure".into(),
        requests: stats.graph(),
        min_requests: floor.requests,
        wall,
        floor: floor.wall(size.latency, concurrency),
        concurrency,
        chain: floor.chain,
        peak_bytes,
        retained_bytes,
        json_bytes: json_len(&snapshot),
        throttled: stats.throttled,
        users: snapshot.users.len(),
        by_endpoint: stats.by_endpoint.clone(),
    };

    drop(snapshot);
    let rounds = crate::incremental::azure(&tenant, &provider, size, concurrency).await;
    (figures, rounds)
}
