//! A simulated Okta org (feature `testkit`): a real HTTP server on
//! 127.0.0.1 that speaks the Management API's wire format over a generated
//! directory, for tests, examples and benchmarks.
//!
//! * **Auth for real**: the token endpoint verifies the signed
//!   `private_key_jwt` assertion against the app's registered public JWK and,
//!   when DPoP is required (the default, as for new Okta service apps), runs
//!   the nonce dance and verifies every DPoP proof (`htm`, `htu`, `ath`,
//!   `jti`, key binding).
//! * **Okta's paging and limits**: `limit` capped per endpoint, opaque
//!   `after` cursors in `Link` headers, `X-Rate-Limit-*` on every response,
//!   429 `E0000047` over a bucket's limit, concurrency 429s (limit and
//!   remaining 0), `X-Okta-Request-Id`, Okta's error bodies.
//! * **Faults and misconfiguration**: [`Fault`] for status codes, stalls, cut
//!   connections, broken JSON and bad next links; [`Misconfig`] for each error
//!   `check()` reports.
//! * **Ground truth**: [`OktaOrg::ground_truth`] is the directory as a
//!   [`Snapshot`]; [`OktaOrg::mutate`] changes it between syncs as Okta
//!   would (fresh `lastUpdated` / `lastMembershipUpdated`, deletions taking
//!   memberships and assignments along), and [`OktaOrg::delete_user`] /
//!   [`OktaOrg::delete_group`] delete.
//! * **System Log**: `GET /api/v1/logs` (scope `okta.logs.read`; withhold it
//!   with [`Misconfig::GrantedScopes`]) serves the events the mutations
//!   caused, with `since`, `until`, `filter` (`eventType eq` terms joined by
//!   `or`), `limit`, `after` cursors in `Link` headers (a polling request
//!   always gets a `next` link), `ASCENDING` order and a 90-day retention
//!   ([`OktaOrg::age_system_log`]); its rate-limit bucket is `logs`.
//! * **Provider-neutral**: [`OktaOrg`] implements
//!   [`directory_core::testing::SimulatedDirectory`] (neutral faults,
//!   misconfigurations and changes mapped onto Okta's) and
//!   [`OktaSimulator`] starts one from an
//!   [`OrgSpec`](directory_core::testing::OrgSpec)
//!   ([`OktaOrgBuilder::spec`]), so the cross-provider fault suite and the
//!   benchmarks drive it as they drive the simulated Entra tenant.
//!
//! ```
//! use directory_core::DirectoryProviderExt;
//! use okta_directory::testkit::OktaOrg;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let org = OktaOrg::builder().users(300).groups(10).app_users(40).start().await.unwrap();
//! let okta = org.provider_builder().build().unwrap();
//! let snapshot = okta.snapshot().await.unwrap();
//! assert!(snapshot.same_directory(&org.ground_truth()));
//! # }
//! ```

mod auth;
mod changes;
mod data;
mod faults;
mod keys;
mod listing;
mod server;
mod simulator;
mod syslog;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use directory_core::{DirectoryData, Error, ErrorKind, Result, Snapshot};

pub use faults::{Fault, FaultKind, Misconfig, STALL};
pub use simulator::OktaSimulator;

use crate::builder::OktaDirectoryBuilder;
use auth::AuthServer;
use data::Shape;
use listing::Directory;
use server::{Limits, Shared};

/// Sets up a simulated org. Defaults: 500 users, 20 groups, 3 memberships
/// per user, 100 app users (40% direct), 10% non-active statuses, awkward
/// data on, DPoP required, tokens valid for an hour, generous rate limits
/// (100,000 per bucket per minute, so repeated benchmark runs are not
/// throttled; set real ones with `rate_limit`) and a concurrency limit of 75.
#[derive(Debug, Clone)]
pub struct OktaOrgBuilder {
    shape: Shape,
    data: Option<DirectoryData>,
    latency: Duration,
    limits: Limits,
    dpop_required: bool,
    token_lifetime: Duration,
    expires_early: Duration,
    resource_nonce: bool,
    rsa: bool,
}

impl Default for OktaOrgBuilder {
    fn default() -> Self {
        Self {
            shape: Shape::default(),
            data: None,
            latency: Duration::ZERO,
            limits: Limits {
                per_window: 100_000,
                buckets: HashMap::new(),
                window_secs: 60,
                concurrency: 75,
            },
            dpop_required: true,
            token_lifetime: Duration::from_secs(3600),
            expires_early: Duration::ZERO,
            resource_nonce: false,
            rsa: false,
        }
    }
}

impl OktaOrgBuilder {
    /// The seed of the generated directory.
    pub fn seed(mut self, seed: u64) -> Self {
        self.shape.seed = seed;
        self
    }
    /// Number of users.
    pub fn users(mut self, n: usize) -> Self {
        self.shape.users = n;
        self
    }
    /// Number of groups.
    pub fn groups(mut self, n: usize) -> Self {
        self.shape.groups = n;
        self
    }
    /// Groups each user belongs to.
    pub fn memberships_per_user(mut self, n: usize) -> Self {
        self.shape.memberships_per_user = n;
        self
    }
    /// Users assigned to the SAML app.
    pub fn app_users(mut self, n: usize) -> Self {
        self.shape.app_users = n;
        self
    }
    /// Share of app users assigned directly (the rest through a group).
    pub fn direct_share(mut self, share: f64) -> Self {
        self.shape.direct_share = share;
        self
    }
    /// Share of users in a non-active status (suspended, deprovisioned...).
    pub fn inactive_share(mut self, share: f64) -> Self {
        self.shape.inactive_share = share;
        self
    }
    /// Unicode names, missing emails, custom attributes, app groups.
    pub fn awkward_data(mut self, on: bool) -> Self {
        self.shape.awkward = on;
        self
    }
    /// Uneven group sizes: 0 (default) for even sizes, 1 to 3 for a few
    /// large groups and many small ones.
    pub fn group_skew(mut self, skew: f64) -> Self {
        self.shape.group_skew = skew;
        self
    }
    /// Add Okta's built-in `Everyone` group with every user in it.
    pub fn everyone_group(mut self, on: bool) -> Self {
        self.shape.everyone = on;
        self
    }
    /// Serve this directory instead of a generated one.
    pub fn data(mut self, data: DirectoryData) -> Self {
        self.data = Some(data);
        self
    }
    /// Latency added to every request.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
    /// Requests per window for every bucket.
    pub fn rate_limit(mut self, per_window: u64) -> Self {
        self.limits.per_window = per_window;
        self
    }
    /// Requests per window for one bucket (see [`crate::wire::bucket_of`]).
    pub fn bucket_rate_limit(mut self, bucket: &'static str, per_window: u64) -> Self {
        self.limits.buckets.insert(bucket, per_window);
        self
    }
    /// The rate-limit window (whole seconds, default 60).
    pub fn rate_window(mut self, window: Duration) -> Self {
        self.limits.window_secs = window.as_secs().max(1);
        self
    }
    /// Requests in flight allowed before concurrency 429s.
    pub fn concurrency_limit(mut self, n: usize) -> Self {
        self.limits.concurrency = n;
        self
    }
    /// Whether the service app requires DPoP (default yes).
    pub fn require_dpop(mut self, on: bool) -> Self {
        self.dpop_required = on;
        self
    }
    /// How long issued tokens stay valid.
    pub fn token_lifetime(mut self, d: Duration) -> Self {
        self.token_lifetime = d;
        self
    }
    /// Clock skew on the token's expiry: tokens stop working this much
    /// earlier than the `expires_in` the org advertises.
    pub fn token_expires_early(mut self, d: Duration) -> Self {
        self.expires_early = d;
        self
    }
    /// Resource calls must carry a DPoP nonce (401 `use_dpop_nonce` with a
    /// `DPoP-Nonce` header otherwise), as some Okta deployments ask.
    pub fn require_resource_nonce(mut self, on: bool) -> Self {
        self.resource_nonce = on;
        self
    }
    /// Give the app an RSA key (RS256) instead of an EC key (ES256).
    pub fn rsa_key(mut self, on: bool) -> Self {
        self.rsa = on;
        self
    }

    /// Generates the directory, binds 127.0.0.1:0 and serves. The server
    /// stops when the returned [`OktaOrg`] is dropped.
    pub async fn start(self) -> Result<OktaOrg> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Transient, "could not bind 127.0.0.1").with_source(e)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Transient, "no local address").with_source(e))?;
        let base = format!("http://{addr}");
        let kid = format!("sim-key-{}", self.shape.seed);
        let private_jwk = if self.rsa {
            keys::rsa_private_jwk(&kid)
        } else {
            Some(keys::ec_private_jwk(&kid))
        };
        let private_jwk = private_jwk
            .ok_or_else(|| Error::new(ErrorKind::InvalidConfig, "could not make a key"))?;
        let public = keys::public_of(&private_jwk);
        let other = keys::public_of(&keys::ec_private_jwk(&kid));
        let (Some(public), Some(other)) = (public, other) else {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "could not derive the public key",
            ));
        };
        let client_id = format!("0oa{:017}", self.shape.seed);
        let app_id = data::okta_id("0oa", 1, self.shape.seed ^ 0x5a);
        let mut auth = AuthServer::new(
            client_id.clone(),
            public,
            other,
            self.dpop_required,
            self.token_lifetime,
        );
        auth.expires_early = self.expires_early;
        auth.resource_nonce = self.resource_nonce;
        let data = self.data.unwrap_or_else(|| data::generate(&self.shape));
        let shared = Arc::new(Shared::new(
            base.clone(),
            auth,
            data,
            app_id.clone(),
            self.limits,
            self.latency,
        ));
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(OktaOrg {
            shared,
            base,
            client_id,
            app_id,
            private_jwk,
            task,
        })
    }
}

/// A running simulated org. Dropping it stops the server.
pub struct OktaOrg {
    shared: Arc<Shared>,
    base: String,
    client_id: String,
    app_id: String,
    private_jwk: String,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for OktaOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaOrg")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl Drop for OktaOrg {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OktaOrg {
    /// Starts building an org.
    pub fn builder() -> OktaOrgBuilder {
        OktaOrgBuilder::default()
    }

    /// The org's base URL (`http://127.0.0.1:PORT`), to use as the domain.
    pub fn base_url(&self) -> &str {
        &self.base
    }
    /// The service app's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The SAML app's id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }
    /// The service app's private key as JWK JSON (a test key).
    pub fn private_jwk(&self) -> &str {
        &self.private_jwk
    }

    /// A provider builder pointed at this org, in test mode (http allowed).
    pub fn provider_builder(&self) -> OktaDirectoryBuilder {
        OktaDirectoryBuilder::default()
            .domain(self.base.clone())
            .client_id(self.client_id.clone())
            .private_jwk(self.private_jwk.clone())
            .app_id(self.app_id.clone())
            .allow_insecure_http(true)
    }

    /// A provider pointed at this org with default settings.
    pub fn provider(&self) -> Result<crate::OktaDirectory> {
        self.provider_builder().build()
    }

    /// The directory the org serves, as a snapshot (what a complete, correct
    /// sync must produce).
    pub fn ground_truth(&self) -> Snapshot {
        let dir = self.shared.dir.read().unwrap_or_else(|p| p.into_inner());
        let d = &dir.data;
        Snapshot::from_parts(
            format!("okta-sim({})", self.base),
            d.users.clone(),
            d.groups.clone(),
            d.memberships.clone(),
            d.app_assignments.clone(),
        )
    }

    /// Changes the directory (users, groups, memberships, assignments) as
    /// an admin would, with Okta's side effects: what changed gets a fresh
    /// `lastUpdated` (users, group profiles) or `lastMembershipUpdated`
    /// (groups whose members changed) unless `f` set one itself; deleting a
    /// user or group takes its memberships and app assignments along; and
    /// the System Log records each change (`user.lifecycle.create`,
    /// `user.lifecycle.delete.completed`, `group.lifecycle.delete`,
    /// `group.user_membership.add|remove`, `application.user_membership.add|remove`, ...).
    /// Indexes are rebuilt afterwards.
    /// Returns what `f` returns.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut DirectoryData) -> R) -> R {
        let mut dir = self.shared.dir.write().unwrap_or_else(|p| p.into_inner());
        let old = std::mem::take(&mut dir.data);
        let mut data = old.clone();
        let out = f(&mut data);
        let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3);
        let events = changes::settle(&old, &mut data, now);
        lock(&self.shared.log).append(events);
        *dir = Directory::new(data);
        out
    }

    /// Deletes a user, as `DELETE /api/v1/users/{id}` does (with its
    /// memberships and assignments, and `user.lifecycle.delete.*` events).
    pub fn delete_user(&self, id: &str) {
        self.mutate(|d| d.users.retain(|u| u.id != id));
    }

    /// Deletes a group, as `DELETE /api/v1/groups/{id}` does (with its
    /// memberships and the assignments made through it, and a
    /// `group.lifecycle.delete` event).
    pub fn delete_group(&self, id: &str) {
        self.mutate(|d| d.groups.retain(|g| g.id != id));
    }

    /// Events in the System Log, those past the retention included.
    pub fn system_log_len(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Moves every System Log event `by` into the past: events older than
    /// Okta's 90-day retention are no longer served.
    pub fn age_system_log(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        lock(&self.shared.log).age(by);
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }
    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }
    /// Turns a misconfiguration on.
    pub fn misconfigure(&self, m: Misconfig) {
        lock(&self.shared.switches).apply(m);
    }
    /// Turns every misconfiguration off.
    pub fn clear_misconfig(&self) {
        *lock(&self.shared.switches) = Default::default();
    }
    /// Changes the latency added to every request.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }
    /// Revokes every issued token: the next resource call gets a 401.
    pub fn revoke_tokens(&self) {
        self.shared.auth.revoke_all();
    }

    /// The access tokens currently valid (for tests proving they never leak).
    pub fn live_tokens(&self) -> Vec<String> {
        self.shared.auth.live_tokens()
    }

    /// Requests served per bucket (`token`, `users`, `groups`, `groups/id`, `apps`, `logs`).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.counts).clone()
    }
    /// Requests served in one bucket.
    pub fn requests(&self, bucket: &str) -> u64 {
        lock(&self.shared.counts).get(bucket).copied().unwrap_or(0)
    }
    /// All requests served.
    pub fn total_requests(&self) -> u64 {
        lock(&self.shared.counts).values().sum()
    }
    /// 429 responses served (rate and concurrency limits, injected ones too).
    pub fn rate_limited(&self) -> u64 {
        self.shared.served_429.load(Ordering::Relaxed)
    }
}

/// The body of an Okta users page holding `users`, exactly as the simulated
/// org serves it (for decode benchmarks and tests).
pub fn users_page_body(users: &[directory_core::DirectoryUser]) -> Vec<u8> {
    listing::users_body(users, "https://sim.okta.test")
}
