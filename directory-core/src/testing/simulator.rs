//! One interface over every simulated organisation (features `testing` and
//! `http`): start one of a given shape, build a provider on it, inject
//! faults, set it up wrong, change its directory and read its counters, the
//! same way whichever provider it simulates.
//!
//! A provider's testkit implements [`SimulatedDirectory`] for its running
//! server and [`SimulatorKind`] for a value that starts one from an
//! [`OrgSpec`]; the cross-provider fault suite and the benchmarks then drive
//! it without knowing which provider it is. What only one provider has
//! (Okta's DPoP nonces, Entra's delta tokens and certificates) stays on the
//! concrete types, reachable through [`SimulatedDirectory::as_any`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::http::RetryPolicy;
use crate::provider::DirectoryProvider;
use crate::snapshot::Snapshot;
use crate::Result;

use super::change::Change;

/// The shape of a simulated organisation to start.
///
/// ```
/// use directory_core::testing::OrgSpec;
/// let spec = OrgSpec::default().seed(8).users(40).groups(5).app_users(12);
/// assert_eq!((spec.users, spec.rate_limits), (40, false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSpec {
    /// The seed of the generated directory (same seed, same directory).
    pub seed: u64,
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
    /// Whether the server enforces the testkit's default rate limits;
    /// without them only injected faults answer 429.
    pub rate_limits: bool,
}

impl Default for OrgSpec {
    /// 100 users, 10 groups, 3 memberships per user, 20 app users, seed 1,
    /// no latency, no rate limits.
    fn default() -> Self {
        Self {
            seed: 1,
            users: 100,
            groups: 10,
            memberships_per_user: 3,
            app_users: 20,
            latency: Duration::ZERO,
            rate_limits: false,
        }
    }
}

impl OrgSpec {
    /// Sets [`OrgSpec::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets [`OrgSpec::users`].
    pub fn users(mut self, n: usize) -> Self {
        self.users = n;
        self
    }
    /// Sets [`OrgSpec::groups`].
    pub fn groups(mut self, n: usize) -> Self {
        self.groups = n;
        self
    }
    /// Sets [`OrgSpec::memberships_per_user`].
    pub fn memberships_per_user(mut self, n: usize) -> Self {
        self.memberships_per_user = n;
        self
    }
    /// Sets [`OrgSpec::app_users`].
    pub fn app_users(mut self, n: usize) -> Self {
        self.app_users = n;
        self
    }
    /// Sets [`OrgSpec::latency`].
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
    /// Sets [`OrgSpec::rate_limits`].
    pub fn rate_limits(mut self, on: bool) -> Self {
        self.rate_limits = on;
        self
    }
}

/// Provider settings that mean the same for every provider; `None` keeps
/// the provider's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    /// One attempt's timeout.
    pub timeout: Option<Duration>,
    /// The retry policy.
    pub retry: Option<RetryPolicy>,
    /// Items per page, for every listing.
    pub page_size: Option<u32>,
}

impl Tuning {
    /// Applies each setting that is set to a provider's builder, through
    /// the builder's own setters.
    pub fn apply_to<B>(
        &self,
        mut b: B,
        timeout: impl FnOnce(B, Duration) -> B,
        retry: impl FnOnce(B, RetryPolicy) -> B,
        page_size: impl FnOnce(B, u32) -> B,
    ) -> B {
        if let Some(t) = self.timeout {
            b = timeout(b, t);
        }
        if let Some(r) = &self.retry {
            b = retry(b, r.clone());
        }
        if let Some(n) = self.page_size {
            b = page_size(b, n);
        }
        b
    }
}

/// What a simulated organisation has served so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every request, token requests and 429 answers included.
    pub requests: u64,
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// 429 answers (rate and concurrency limits, injected ones too).
    pub throttled: u64,
}

/// Which requests an [`Injection`] hits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The user listing.
    Users,
    /// Any group's member listing.
    Members,
    /// One group's member listing (by the organisation's group id).
    MembersOf(String),
    /// The group listing.
    Groups,
    /// The SSO app's assignments.
    Apps,
    /// The token endpoint.
    Token,
    /// Every resource (API) request, whatever the listing.
    Api,
}

/// What goes wrong, in terms every simulated organisation serves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// This status with the provider's error body (a 429 or 503 with the
    /// provider's wait headers, one second ahead).
    Status(u16),
    /// No answer for this long (past the client's timeout: a stall).
    Stall(Duration),
    /// Half the body, then the connection cut.
    CutBody,
    /// A complete response whose JSON stops half-way.
    TruncatedJson,
    /// Well-formed JSON of the wrong shape.
    MalformedJson,
    /// An empty page whose next link leads on.
    EmptyPage,
    /// A next link back to the page just served.
    CyclicNext,
    /// A next link to another host.
    ForeignNext,
}

/// A fault, where, after how many matching requests, how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// What goes wrong.
    pub fault: Fault,
    /// Which requests.
    pub target: Target,
    /// Matching requests let through first.
    pub after: u32,
    /// How many matching requests it hits; `None` for all until cleared.
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
    /// Lets `n` matching requests through first.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }
    /// Hits `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    /// Hits every matching request until the faults are cleared.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }
}

/// A way an organisation is set up wrong that every provider has; each
/// makes `check()` report its own error. Provider-specific ones (Okta's
/// DPoP or scopes, Entra's expired secret or certificate) are on the
/// testkits' own `Misconfig` types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misconfiguration {
    /// No organisation answers at the configured domain or tenant.
    UnknownOrg,
    /// The organisation knows no app with the configured client id.
    UnknownClient,
    /// The configured key or secret is not the one the app holds.
    WrongCredential,
    /// The app signs in but may read nothing (Okta: no admin role; Entra:
    /// no admin consent).
    NoAccess,
    /// The configured SSO app does not exist (Okta: another app id; Entra:
    /// its service principal deleted).
    UnknownApp,
}

/// A running simulated organisation, whichever provider it simulates.
/// Dropping it stops the server.
pub trait SimulatedDirectory: Send + Sync + fmt::Debug {
    /// The provider it simulates (`okta`, `azure`), for messages.
    fn kind(&self) -> &'static str;
    /// The server's base URL (`http://127.0.0.1:PORT`).
    fn base_url(&self) -> &str;
    /// A provider pointed at the organisation, in test mode (plain http
    /// allowed), with `tuning` applied.
    fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn DirectoryProvider>>;
    /// The directory it serves: what a complete, correct sync produces.
    fn ground_truth(&self) -> Snapshot;
    /// Requests served so far.
    fn stats(&self) -> SimStats;
    /// Injects a fault.
    fn inject(&self, injection: Injection);
    /// Removes every pending fault.
    fn clear_faults(&self);
    /// Sets the organisation up wrong in one way (on top of earlier ones).
    fn misconfigure(&self, m: Misconfiguration);
    /// Undoes every misconfiguration.
    fn clear_misconfig(&self);
    /// Makes every token issued so far stop working (the next resource
    /// request gets a 401).
    fn revoke_tokens(&self);
    /// Changes the directory as an admin would, with the provider's side
    /// effects; false when there was nothing to change (an unknown id, a
    /// member already there, an id taken).
    fn apply(&self, change: &Change) -> bool;
    /// The concrete type, for what only one provider has.
    fn as_any(&self) -> &dyn Any;
}

/// A box or an `Arc` of a simulated organisation is one too (so
/// `&Box<dyn SimulatedDirectory>` passes where `&dyn SimulatedDirectory` is
/// asked for); [`SimulatedDirectory::as_any`] still reaches the concrete type.
macro_rules! forward {
    ($($ptr:ident),*) => {$(
        impl<T: SimulatedDirectory + ?Sized> SimulatedDirectory for $ptr<T> {
            fn kind(&self) -> &'static str {
                (**self).kind()
            }
            fn base_url(&self) -> &str {
                (**self).base_url()
            }
            fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn DirectoryProvider>> {
                (**self).provider(tuning)
            }
            fn ground_truth(&self) -> Snapshot {
                (**self).ground_truth()
            }
            fn stats(&self) -> SimStats {
                (**self).stats()
            }
            fn inject(&self, injection: Injection) {
                (**self).inject(injection)
            }
            fn clear_faults(&self) {
                (**self).clear_faults()
            }
            fn misconfigure(&self, m: Misconfiguration) {
                (**self).misconfigure(m)
            }
            fn clear_misconfig(&self) {
                (**self).clear_misconfig()
            }
            fn revoke_tokens(&self) {
                (**self).revoke_tokens()
            }
            fn apply(&self, change: &Change) -> bool {
                (**self).apply(change)
            }
            fn as_any(&self) -> &dyn Any {
                (**self).as_any()
            }
        }
    )*};
}

forward!(Box, Arc);

/// Starts simulated organisations of one provider: pick the provider by
/// value (`&dyn SimulatorKind`) and start any shape of it.
#[async_trait::async_trait]
pub trait SimulatorKind: Send + Sync {
    /// The provider it simulates, as [`SimulatedDirectory::kind`] names it.
    fn name(&self) -> &'static str;
    /// Generates a directory of this shape and starts serving it on
    /// 127.0.0.1.
    async fn start(&self, spec: &OrgSpec) -> Result<Box<dyn SimulatedDirectory>>;
}
