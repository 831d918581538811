//! What every case shares: the suite's org and provider settings, the
//! `both_orgs!` macro that runs a case against the simulated Okta org and
//! the simulated Entra tenant alike, and the assertions on a sync's
//! outcome. Both orgs are driven through
//! [`directory_core::testing::SimulatedDirectory`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use azure_directory::testkit::{AzureSimulator, TenantHandle};
use directory_core::http::RetryPolicy;
pub use directory_core::testing::{Fault, Injection, Target, Tuning};
use directory_core::testing::{OrgSpec, SimulatedDirectory, SimulatorKind};
use directory_core::{CollectOptions, DirectoryProvider, ErrorKind, Result, Snapshot};
use okta_directory::testkit::{OktaOrg, OktaSimulator};

/// Which simulated org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Okta,
    Azure,
}

/// The most one case may take before it counts as a hang.
pub const CASE_LIMIT: Duration = Duration::from_secs(30);

/// One attempt's timeout: a stall past it is cut off.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(600);

/// How long a stalled response waits before answering (well past the timeout).
pub const STALL: Duration = Duration::from_secs(4);

/// A small retry budget so faults that outlast it fail within seconds.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(80),
        deadline: Duration::from_secs(6),
    }
}

/// Runs one case under [`CASE_LIMIT`]: a hang fails the test instead of
/// stalling CI.
pub async fn within_limit<F: Future<Output = ()>>(name: &str, case: F) {
    if tokio::time::timeout(CASE_LIMIT, case).await.is_err() {
        panic!("{name}: no outcome within {CASE_LIMIT:?} (a hang)");
    }
}

/// Generates `mod $case { okta, azure }` tests that run `$case(Kind)` under
/// the case limit, so each case shows in the output once per org.
#[macro_export]
macro_rules! both_orgs {
    ($($(#[$meta:meta])* $case:ident),* $(,)?) => {$(
        mod $case {
            use $crate::orgs::{within_limit, Kind};
            #[tokio::test]
            $(#[$meta])*
            async fn okta() {
                within_limit(concat!(stringify!($case), "/okta"), super::$case(Kind::Okta)).await;
            }
            #[tokio::test]
            $(#[$meta])*
            async fn azure() {
                within_limit(concat!(stringify!($case), "/azure"), super::$case(Kind::Azure)).await;
            }
        }
    )*};
}

/// The suite's org: 40 users, 5 groups, 12 app users, no rate limits in
/// the way (the cases inject their own 429s).
pub fn spec() -> OrgSpec {
    OrgSpec::default().seed(8).users(40).groups(5).app_users(12)
}

/// Provider settings for the suite: short timeouts, a small retry budget,
/// small pages so every listing has several.
pub fn tuning() -> Tuning {
    Tuning {
        timeout: Some(ATTEMPT_TIMEOUT),
        retry: Some(quick_retry()),
        page_size: Some(7),
    }
}

impl Kind {
    /// The testkit that simulates this kind of org.
    pub fn simulator(self) -> &'static dyn SimulatorKind {
        match self {
            Kind::Okta => &OktaSimulator,
            Kind::Azure => &AzureSimulator,
        }
    }
}

/// A running simulated org of either kind.
pub type Sim = Box<dyn SimulatedDirectory>;

/// The suite's org ([`spec`]) of this kind.
pub async fn start(kind: Kind) -> Sim {
    start_spec(kind, &spec()).await
}

pub async fn start_spec(kind: Kind, spec: &OrgSpec) -> Sim {
    let sim = kind.simulator().start(spec).await;
    sim.unwrap_or_else(|e| panic!("{kind:?}: the simulated org starts: {e}"))
}

/// A provider with the suite's [`tuning`].
pub fn provider(sim: &dyn SimulatedDirectory) -> Arc<dyn DirectoryProvider> {
    provider_with(sim, &tuning())
}

pub fn provider_with(sim: &dyn SimulatedDirectory, t: &Tuning) -> Arc<dyn DirectoryProvider> {
    let p = sim.provider(t);
    p.unwrap_or_else(|e| panic!("{}: the provider builds: {e}", sim.kind()))
}

/// The simulated Okta org behind `sim`, for what only Okta has.
pub fn okta_org(sim: &dyn SimulatedDirectory) -> &OktaOrg {
    let org = sim.as_any().downcast_ref();
    org.unwrap_or_else(|| panic!("{} is not the simulated Okta org", sim.kind()))
}

/// The simulated Entra tenant behind `sim`, for what only Entra has.
pub fn azure_tenant(sim: &dyn SimulatedDirectory) -> &TenantHandle {
    let tenant = sim.as_any().downcast_ref();
    tenant.unwrap_or_else(|| panic!("{} is not the simulated Entra tenant", sim.kind()))
}

/// A full sync: a complete snapshot or the first error.
pub async fn sync(p: &dyn DirectoryProvider) -> Result<Snapshot> {
    Snapshot::collect(p, &CollectOptions::default()).await
}

/// Asserts the sync produced the org's whole directory.
#[track_caller]
pub fn assert_complete(sim: &dyn SimulatedDirectory, got: Result<Snapshot>) {
    let snap =
        got.unwrap_or_else(|e| panic!("{}: expected a complete snapshot, got {e}", sim.kind()));
    let truth = sim.ground_truth();
    assert!(!truth.users.is_empty(), "the org has users");
    assert_eq!(snap.users.len(), truth.users.len(), "{}: users", sim.kind());
    assert_eq!(
        snap.memberships.len(),
        truth.memberships.len(),
        "{}: memberships",
        sim.kind()
    );
    assert!(
        snap.same_directory(&truth),
        "{}: the snapshot differs from the ground truth",
        sim.kind()
    );
}

/// Requests a clean sync of the org makes (by a fresh provider, so the
/// token requests count too).
pub async fn clean_sync_requests(sim: &dyn SimulatedDirectory) -> u64 {
    let before = sim.stats().requests;
    assert_complete(sim, sync(provider(sim).as_ref()).await);
    sim.stats().requests - before
}

/// Syncs with `p` (fresh: no token yet) and asserts the sync is complete
/// and cost more requests than a clean one: the injected faults fired and
/// were survived, not missed.
pub async fn assert_survived(sim: &dyn SimulatedDirectory, clean: u64, p: &dyn DirectoryProvider) {
    let before = sim.stats().requests;
    let got = sync(p).await;
    let used = sim.stats().requests - before;
    assert_complete(sim, got);
    assert!(
        used > clean,
        "{}: {used} requests, {clean} for a clean sync: no fault fired",
        sim.kind()
    );
}

/// Asserts the sync failed with `kind` (no snapshot, partial or not).
#[track_caller]
pub fn assert_error(
    sim: &dyn SimulatedDirectory,
    got: Result<Snapshot>,
    kind: ErrorKind,
) -> directory_core::Error {
    match got {
        Ok(s) => panic!(
            "{}: expected a {kind:?} error, got a snapshot of {} users",
            sim.kind(),
            s.users.len()
        ),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{}: {e}", sim.kind());
            e
        }
    }
}
