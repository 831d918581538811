//! One small adapter over both simulated orgs, so every case runs against
//! the simulated Okta org and the simulated Entra tenant alike.
//!
//! [`Sim`] starts either org, builds a provider tuned for a fast suite (short
//! timeouts, a small retry budget, small pages so every listing has several),
//! injects a provider-neutral [`Fault`] on a [`Target`], and says what a
//! complete sync must produce (the org's ground truth).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use azure_directory::testkit::{self as azure_kit, FaultTarget, SimulatedTenant, TenantHandle};
use directory_core::http::RetryPolicy;
use directory_core::{CollectOptions, DirectoryProvider, ErrorKind, Result, Snapshot};
use okta_directory::testkit::{self as okta_kit, OktaOrg};
use okta_directory::PageLimits;

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

/// Which requests a fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The user listing.
    Users,
    /// Any group's member listing.
    Members,
    /// One group's member listing (by the org's group id).
    MembersOf(String),
    /// The group listing (the first request under the groups path: members
    /// are only fetched once the groups are known).
    Groups,
    /// The SSO app's assignments.
    Apps,
    /// The token endpoint.
    Token,
    /// Every resource (API) request, whatever the listing.
    Api,
}

/// What goes wrong, in terms both orgs can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Status(u16),
    Stall,
    CutBody,
    TruncatedJson,
    MalformedJson,
    EmptyPage,
    CyclicNext,
    ForeignNext,
}

/// A fault, where, after how many matching requests, how many times.
#[derive(Debug, Clone)]
pub struct Injection {
    pub fault: Fault,
    pub target: Target,
    pub after: u32,
    pub times: Option<u32>,
}

impl Injection {
    /// `fault` on the next request to `target`, once.
    pub fn new(fault: Fault, target: Target) -> Self {
        Self {
            fault,
            target,
            after: 0,
            times: Some(1),
        }
    }
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }
}

/// Provider settings for the suite.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub page: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            timeout: ATTEMPT_TIMEOUT,
            retry: quick_retry(),
            page: 7,
        }
    }
}

/// A running simulated org of either kind.
pub enum Sim {
    Okta(OktaOrg),
    Azure(TenantHandle),
}

impl Sim {
    /// A generated org: 40 users, 5 groups, 12 app users, no rate limits in
    /// the way (the cases inject their own 429s).
    pub async fn start(kind: Kind) -> Sim {
        Self::start_sized(kind, 40, 5).await
    }

    pub async fn start_sized(kind: Kind, users: usize, groups: usize) -> Sim {
        match kind {
            Kind::Okta => Sim::Okta(
                OktaOrg::builder()
                    .seed(8)
                    .users(users)
                    .groups(groups)
                    .app_users(12)
                    .start()
                    .await
                    .expect("okta org starts"),
            ),
            Kind::Azure => Sim::Azure(
                SimulatedTenant::builder()
                    .seed(8)
                    .users(users)
                    .groups(groups)
                    .app_users(12)
                    .rate_limit(None)
                    .start()
                    .await
                    .expect("tenant starts"),
            ),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Sim::Okta(_) => Kind::Okta,
            Sim::Azure(_) => Kind::Azure,
        }
    }

    /// A provider with the suite's defaults.
    pub fn provider(&self) -> Arc<dyn DirectoryProvider> {
        self.provider_with(&Tuning::default())
    }

    pub fn provider_with(&self, t: &Tuning) -> Arc<dyn DirectoryProvider> {
        match self {
            Sim::Okta(org) => Arc::new(
                org.provider_builder()
                    .page_limits(PageLimits {
                        users: t.page,
                        groups: t.page,
                        group_members: t.page,
                        app_users: t.page,
                    })
                    .timeout(t.timeout)
                    .retry_policy(t.retry.clone())
                    .build()
                    .expect("okta provider builds"),
            ),
            Sim::Azure(tenant) => Arc::new(
                tenant
                    .provider_builder()
                    .page_size(t.page)
                    .timeout(t.timeout)
                    .retry_policy(t.retry.clone())
                    .build()
                    .expect("azure provider builds"),
            ),
        }
    }

    /// What a complete, correct sync must produce.
    pub fn ground_truth(&self) -> Snapshot {
        match self {
            Sim::Okta(org) => org.ground_truth(),
            Sim::Azure(t) => t.ground_truth(),
        }
    }

    pub fn base_url(&self) -> String {
        match self {
            Sim::Okta(org) => org.base_url().to_string(),
            Sim::Azure(t) => t.base_url().to_string(),
        }
    }

    /// Requests the org has served so far (token requests included).
    pub fn total_requests(&self) -> u64 {
        match self {
            Sim::Okta(org) => org.total_requests(),
            Sim::Azure(t) => {
                let r = t.requests();
                r.total + r.throttled
            }
        }
    }

    /// 429 responses the org has served.
    pub fn throttled(&self) -> u64 {
        match self {
            Sim::Okta(org) => org.rate_limited(),
            Sim::Azure(t) => t.requests().throttled,
        }
    }

    pub fn inject(&self, i: Injection) {
        match self {
            Sim::Okta(org) => org.inject(okta_fault(&i)),
            Sim::Azure(t) => t.inject(azure_fault(&i)),
        }
    }

    pub fn clear_faults(&self) {
        match self {
            Sim::Okta(org) => org.clear_faults(),
            Sim::Azure(t) => t.clear_faults(),
        }
    }

    /// Makes every token issued so far stop working (the next resource call
    /// gets a 401).
    pub fn revoke_tokens(&self) {
        match self {
            Sim::Okta(org) => org.revoke_tokens(),
            Sim::Azure(t) => t.revoke_tokens(),
        }
    }
}

fn okta_path(t: &Target) -> String {
    match t {
        Target::Users => "/api/v1/users".into(),
        // `/api/v1/groups/` is only in member paths (`/api/v1/groups/{id}/users`).
        Target::Members => "/api/v1/groups/".into(),
        Target::MembersOf(g) => format!("/api/v1/groups/{g}/users"),
        Target::Groups => "/api/v1/groups".into(),
        Target::Apps => "/api/v1/apps/".into(),
        Target::Token => "/oauth2/v1/token".into(),
        Target::Api => "/api/v1/".into(),
    }
}

fn okta_fault(i: &Injection) -> okta_kit::Fault {
    use okta_kit::FaultKind as K;
    let kind = match &i.fault {
        Fault::Status(s) => K::Status(*s),
        Fault::Stall => K::Delay(STALL),
        Fault::CutBody => K::CutBody,
        Fault::TruncatedJson => K::TruncatedJson,
        Fault::MalformedJson => K::MalformedJson,
        Fault::EmptyPage => K::EmptyPage,
        Fault::CyclicNext => K::CyclicNext,
        Fault::ForeignNext => K::ForeignNext,
    };
    let f = okta_kit::Fault::new(kind)
        .on_path(okta_path(&i.target))
        .after(i.after);
    match i.times {
        Some(n) => f.times(n),
        None => f.always(),
    }
}

fn azure_fault(i: &Injection) -> azure_kit::Fault {
    use azure_kit::FaultKind as K;
    let kind = match &i.fault {
        Fault::Status(s) => K::Status {
            status: *s,
            retry_after: (*s == 429 || *s == 503).then_some(1),
        },
        Fault::Stall => K::Delay(STALL),
        Fault::CutBody => K::CutConnection,
        Fault::TruncatedJson => K::TruncatedJson,
        Fault::MalformedJson => K::MalformedJson,
        Fault::EmptyPage => K::EmptyPage,
        Fault::CyclicNext => K::CyclingNextLink,
        Fault::ForeignNext => K::ForeignNextLink,
    };
    let target = match &i.target {
        Target::Users => FaultTarget::PathContains("/v1.0/users".into()),
        Target::Members => FaultTarget::PathContains("/members".into()),
        Target::MembersOf(g) => FaultTarget::PathContains(format!("/groups/{g}/members")),
        Target::Groups => FaultTarget::PathContains("/v1.0/groups".into()),
        Target::Apps => FaultTarget::PathContains("/appRoleAssignedTo".into()),
        Target::Token => FaultTarget::TokenEndpoint,
        Target::Api => FaultTarget::Graph,
    };
    let f = azure_kit::Fault::new(kind)
        .on(target)
        .after(u64::from(i.after));
    match i.times {
        Some(n) => f.times(u64::from(n)),
        None => f.always(),
    }
}

/// A full sync: a complete snapshot or the first error.
pub async fn sync(p: &dyn DirectoryProvider) -> Result<Snapshot> {
    Snapshot::collect(p, &CollectOptions::default()).await
}

/// Asserts the sync produced the org's whole directory.
#[track_caller]
pub fn assert_complete(sim: &Sim, got: Result<Snapshot>) {
    let snap =
        got.unwrap_or_else(|e| panic!("{:?}: expected a complete snapshot, got {e}", sim.kind()));
    let truth = sim.ground_truth();
    assert!(!truth.users.is_empty(), "the org has users");
    assert_eq!(
        snap.users.len(),
        truth.users.len(),
        "{:?}: users",
        sim.kind()
    );
    assert_eq!(
        snap.memberships.len(),
        truth.memberships.len(),
        "{:?}: memberships",
        sim.kind()
    );
    assert!(
        snap.same_directory(&truth),
        "{:?}: the snapshot differs from the ground truth",
        sim.kind()
    );
}

/// Requests a clean sync of the org makes (by a fresh provider, so the
/// token requests count too).
pub async fn clean_sync_requests(sim: &Sim) -> u64 {
    let before = sim.total_requests();
    assert_complete(sim, sync(sim.provider().as_ref()).await);
    sim.total_requests() - before
}

/// Syncs with `p` (fresh: no token yet) and asserts the sync is complete
/// and cost more requests than a clean one: the injected faults fired and
/// were survived, not missed.
pub async fn assert_survived(sim: &Sim, clean: u64, p: &dyn DirectoryProvider) {
    let before = sim.total_requests();
    let got = sync(p).await;
    let used = sim.total_requests() - before;
    assert_complete(sim, got);
    assert!(
        used > clean,
        "{:?}: {used} requests, {clean} for a clean sync: no fault fired",
        sim.kind()
    );
}

/// Asserts the sync failed with `kind` (no snapshot, partial or not).
#[track_caller]
pub fn assert_error(sim: &Sim, got: Result<Snapshot>, kind: ErrorKind) -> directory_core::Error {
    match got {
        Ok(s) => panic!(
            "{:?}: expected a {kind:?} error, got a snapshot of {} users",
            sim.kind(),
            s.users.len()
        ),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{:?}: {e}", sim.kind());
            e
        }
    }
}
