//! A simulated Microsoft Entra tenant and Microsoft Graph on 127.0.0.1
//! (feature `testkit`), for tests, demos and benchmarks.
//!
//! It speaks Graph's wire format: the client-credentials token endpoint
//! (secrets compared, certificate assertions verified for real, AADSTS error
//! bodies), users, groups, members (nested groups, devices, a membership
//! cycle), the SSO app's `appRoleAssignedTo`, `@odata.nextLink` paging with
//! `$top` and `$select`, delta queries with expiry and reset, throttling by
//! resource units with `Retry-After`, Graph error bodies with request ids. It
//! counts requests, changes between syncs on demand ([`TenantHandle::mutate`])
//! and injects faults ([`Fault`]) and misconfigurations ([`Misconfig`]).
//!
//! Typical set-ups:
//!
//! * tests: `SimulatedTenant::builder().seed(7).users(500).groups(20).start()`,
//!   then [`TenantHandle::provider_builder`] (client secret) or
//!   [`TenantHandle::provider_builder_with_certificate`];
//! * benchmarks: `.users(100_000).groups(2_000).app_users(5_000)
//!   .latency(Duration::from_millis(20))`, counting with
//!   [`TenantHandle::requests`] (`throttled` is the number of 429s served);
//! * fault suites: [`TenantHandle::inject`] a [`Fault`], or
//!   [`TenantHandle::misconfigure`] with a [`Misconfig`] for each `check()`
//!   error; [`TenantHandle::mutate`] between two syncs;
//! * provider-neutral: [`TenantHandle`] implements
//!   [`directory_core::testing::SimulatedDirectory`] (neutral faults,
//!   misconfigurations and changes mapped onto Graph's) and
//!   [`AzureSimulator`] starts one from an
//!   [`OrgSpec`](directory_core::testing::OrgSpec)
//!   ([`SimulatedTenant::spec`]), so the cross-provider fault suite and the
//!   benchmarks drive it as they drive the simulated Okta org.
//!
//! ```
//! use azure_directory::testkit::{Fault, SimulatedTenant};
//! use directory_core::DirectoryProviderExt;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let tenant = SimulatedTenant::builder().users(300).groups(20).start().await.unwrap();
//! tenant.inject(Fault::throttle(0).on_path("/users"));
//! let azure = tenant.provider_builder().build().unwrap();
//! let snapshot = azure.snapshot().await.unwrap();
//! assert!(snapshot.same_directory(&tenant.ground_truth()));
//! assert_eq!(tenant.requests().throttled, 1);
//! # });
//! ```

mod auth;
mod data;
mod deltas;
mod faults;
mod graph;
mod mutate;
mod server;
mod simulator;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use directory_core::{Error, ErrorKind, Result, SecretString, Snapshot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use data::{
    GenSpec, MemberType, SimAssignment, SimGroup, SimMember, SimServicePrincipal, SimUser,
    TenantData, ADMIN_ROLE, DEFAULT_ACCESS,
};
pub use faults::{Fault, FaultKind, FaultTarget, RateLimit};
pub use mutate::TenantMut;
pub use server::RequestStats;
pub use simulator::AzureSimulator;

use crate::builder::AzureDirectoryBuilder;
use crate::provider::AzureDirectory;
use auth::{AuthState, RegisteredCert};
use server::{lock, read, write, DeltaClock, Sim, Tenant};

const CLIENT_CERT: &str = include_str!("keys/client.cert.pem");
const CLIENT_KEY: &str = include_str!("keys/client.key.pem");
const EXPIRED_CERT: &str = include_str!("keys/client-expired.cert.pem");
const OTHER_CERT: &str = include_str!("keys/other.cert.pem");

/// The application permissions granted by default.
pub const DEFAULT_ROLES: &[&str] = &[
    "User.Read.All",
    "GroupMember.Read.All",
    "Application.Read.All",
];

/// A way the tenant can be set up wrong, as admins do; each one makes
/// `check()` report its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misconfig {
    /// The tenant id is unknown (AADSTS90002).
    UnknownTenant,
    /// The app registration does not exist (AADSTS700016).
    UnknownClient,
    /// The secret was rotated: the configured one is wrong (AADSTS7000215).
    WrongSecret,
    /// The secret has expired (AADSTS7000222).
    ExpiredSecret,
    /// The client's certificate is not registered (AADSTS700027).
    CertificateNotRegistered,
    /// Admin consent was never granted: tokens carry no roles and Graph
    /// answers 403 `Authorization_RequestDenied`.
    NoAdminConsent,
    /// One application permission is missing (e.g. `Application.Read.All`).
    MissingPermission(String),
    /// The SSO app's service principal is gone (404 `Request_ResourceNotFound`).
    ServicePrincipalDeleted,
}

/// Builds and starts a simulated tenant.
#[derive(Debug, Clone)]
pub struct SimulatedTenant {
    spec: GenSpec,
    latency: Duration,
    rate_limit: Option<RateLimit>,
    default_rate_limit: bool,
    concurrency_limit: Option<usize>,
    token_lifetime: Duration,
    token_clock_skew: Duration,
    delta_token_ttl: Duration,
}

impl SimulatedTenant {
    /// A builder: 100 users, 10 groups, 3 memberships per user, 20 SSO
    /// users, 5% disabled, awkward data and nested groups on, Graph's rate
    /// limit for the tenant's size, no added latency.
    pub fn builder() -> Self {
        Self {
            spec: GenSpec {
                seed: 42,
                users: 100,
                groups: 10,
                memberships_per_user: 3,
                app_users: 20,
                disabled_percent: 5,
                awkward: true,
                nested_groups: true,
            },
            latency: Duration::ZERO,
            rate_limit: None,
            default_rate_limit: true,
            concurrency_limit: None,
            token_lifetime: Duration::from_secs(3599),
            token_clock_skew: Duration::ZERO,
            delta_token_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// The random seed (same seed, same tenant).
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }

    /// Number of users.
    pub fn users(mut self, n: usize) -> Self {
        self.spec.users = n;
        self
    }

    /// Number of groups.
    pub fn groups(mut self, n: usize) -> Self {
        self.spec.groups = n;
        self
    }

    /// Group memberships per user.
    pub fn memberships_per_user(mut self, n: usize) -> Self {
        self.spec.memberships_per_user = n;
        self
    }

    /// Users assigned to the SSO app (about half directly, half via groups).
    pub fn app_users(mut self, n: usize) -> Self {
        self.spec.app_users = n;
        self
    }

    /// Share of users in a non-active status (disabled accounts), from 0
    /// to 1 (kept to the whole percent), as Okta's simulated org takes it.
    pub fn inactive_share(mut self, share: f64) -> Self {
        let percent = (share.clamp(0.0, 1.0) * 100.0).round();
        self.spec.disabled_percent = u32::try_from(percent as i64).unwrap_or(0);
        self
    }

    /// Unicode names, missing emails, guests, extension attributes, devices.
    pub fn awkward_data(mut self, on: bool) -> Self {
        self.spec.awkward = on;
        self
    }

    /// Nested groups, with one membership cycle.
    pub fn nested_groups(mut self, on: bool) -> Self {
        self.spec.nested_groups = on;
        self
    }

    /// Latency added to every request.
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// The resource-unit budget; `None` for no throttling. Default: Graph's
    /// app + tenant limit for the tenant's size.
    pub fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.rate_limit = limit;
        self.default_rate_limit = false;
        self
    }

    /// Requests in flight at once before 429s (default: no limit).
    pub fn concurrency_limit(mut self, n: usize) -> Self {
        self.concurrency_limit = Some(n);
        self
    }

    /// Access token lifetime (default 3599 s); short lifetimes make tokens
    /// expire mid-sync.
    pub fn token_lifetime(mut self, d: Duration) -> Self {
        self.token_lifetime = d;
        self
    }

    /// Clock skew: tokens really expire this much earlier than their
    /// `expires_in` says (Graph then answers 401 before the client expects).
    pub fn token_clock_skew(mut self, d: Duration) -> Self {
        self.token_clock_skew = d;
        self
    }

    /// How long delta tokens live (default seven days, like Graph).
    pub fn delta_token_ttl(mut self, d: Duration) -> Self {
        self.delta_token_ttl = d;
        self
    }

    /// Generates the directory and starts the server on 127.0.0.1:0.
    pub async fn start(self) -> Result<TenantHandle> {
        let mut rng = StdRng::seed_from_u64(self.spec.seed ^ 0x5eed);
        let tenant_id = data::guid(&mut rng);
        let client_id = data::guid(&mut rng);
        let secret = SecretString::new(format!("sim~{:032x}", rng.gen::<u128>()));
        let data = TenantData::generate(&self.spec, &client_id);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Transient, "cannot bind 127.0.0.1").with_source(e)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Transient, "no local address").with_source(e))?;
        let limit = if self.default_rate_limit {
            Some(RateLimit::for_tenant_size(self.spec.users))
        } else {
            self.rate_limit
        };
        let sim = Arc::new(Sim {
            base: format!("http://{addr}"),
            tenant: RwLock::new(Tenant {
                data,
                log: Default::default(),
                rng: StdRng::seed_from_u64(rng.gen()),
            }),
            auth: Mutex::new(self.auth_state(&tenant_id, &client_id, &secret, &mut rng)),
            faults: Mutex::new(Vec::new()),
            stats: Mutex::new(RequestStats::default()),
            bucket: Mutex::new(limit.map(faults::Bucket::new)),
            delta: Mutex::new(DeltaClock {
                ttl_secs: self.delta_token_ttl.as_secs(),
                ..DeltaClock::default()
            }),
            latency: Mutex::new(self.latency),
            inflight: AtomicUsize::new(0),
            concurrency_limit: self.concurrency_limit,
            sp_deleted: AtomicBool::new(false),
            log: Mutex::new(Default::default()),
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(sim.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(TenantHandle {
            sim,
            tenant_id,
            client_id,
            secret,
            shutdown: Some(tx),
            task,
        })
    }

    fn auth_state(
        &self,
        tenant_id: &str,
        client_id: &str,
        secret: &SecretString,
        rng: &mut StdRng,
    ) -> AuthState {
        AuthState {
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            secret: secret.clone(),
            secret_expired: false,
            certs: RegisteredCert::from_pem(CLIENT_CERT).into_iter().collect(),
            roles: DEFAULT_ROLES.iter().map(|s| s.to_string()).collect(),
            tenant_exists: true,
            client_exists: true,
            signing_key: (0..32).map(|_| rng.gen::<u8>()).collect(),
            generation: 0,
            token_lifetime_secs: self.token_lifetime.as_secs().max(1),
            used_jti: Default::default(),
            issued: 0,
            last_token: None,
            skew_secs: self.token_clock_skew.as_secs(),
        }
    }
}

/// A running simulated tenant. Dropping it shuts the server down.
pub struct TenantHandle {
    sim: Arc<Sim>,
    tenant_id: String,
    client_id: String,
    secret: SecretString,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TenantHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantHandle")
            .field("base_url", &self.sim.base)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl Drop for TenantHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

impl TenantHandle {
    /// `http://127.0.0.1:<port>`: both the login authority and the Graph root.
    pub fn base_url(&self) -> &str {
        &self.sim.base
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The sync app's application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The sync app's client secret.
    pub fn client_secret(&self) -> SecretString {
        self.secret.clone()
    }

    /// The certificate registered on the sync app (PEM).
    pub fn certificate_pem(&self) -> &'static str {
        CLIENT_CERT
    }

    /// The certificate's private key (PEM). A fixed test key: never use it
    /// anywhere real.
    pub fn certificate_key_pem(&self) -> SecretString {
        SecretString::new(CLIENT_KEY)
    }

    /// An expired certificate for the same key, to test expiry reporting.
    pub fn expired_certificate_pem(&self) -> &'static str {
        EXPIRED_CERT
    }

    /// The SSO app's service principal object id.
    pub fn service_principal_id(&self) -> String {
        read(&self.sim.tenant).data.sso_app.id.clone()
    }

    /// The SSO app's application (client) id: configuring it as the service
    /// principal id is the classic mix-up.
    pub fn sso_app_id(&self) -> String {
        read(&self.sim.tenant).data.sso_app.app_id.clone()
    }

    /// A provider builder pointed at this tenant, signing in with the secret.
    pub fn provider_builder(&self) -> AzureDirectoryBuilder {
        self.base_builder().client_secret(self.secret.clone())
    }

    /// A provider builder pointed at this tenant, signing in with the certificate.
    pub fn provider_builder_with_certificate(&self) -> AzureDirectoryBuilder {
        self.base_builder()
            .client_certificate(CLIENT_CERT, Some(self.certificate_key_pem()))
    }

    /// A provider with the secret and default settings.
    pub fn provider(&self) -> Result<AzureDirectory> {
        self.provider_builder().build()
    }

    fn base_builder(&self) -> AzureDirectoryBuilder {
        let mut b = AzureDirectory::builder()
            .tenant_id(&self.tenant_id)
            .client_id(&self.client_id)
            .service_principal_id(self.service_principal_id())
            .authority_host(&self.sim.base)
            .graph_endpoint(&self.sim.base)
            .allow_insecure_http(true);
        for ext in read(&self.sim.tenant).data.extension_names.clone() {
            b = b.extension_attribute(ext);
        }
        b
    }

    /// The ground truth a correct provider must return.
    pub fn ground_truth(&self) -> Snapshot {
        read(&self.sim.tenant)
            .data
            .snapshot(&format!("azure({})", self.tenant_id))
    }

    /// Changes the directory; delta queries see the changes.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut TenantMut<'_>) -> R) -> R {
        let mut t = write(&self.sim.tenant);
        let Tenant { data, log, rng } = &mut *t;
        f(&mut TenantMut { data, log, rng })
    }

    /// A copy of the directory as it is now.
    pub fn data(&self) -> TenantData {
        read(&self.sim.tenant).data.clone()
    }

    /// Request counts so far.
    pub fn requests(&self) -> RequestStats {
        lock(&self.sim.stats).clone()
    }

    /// Forgets the request counts and the request log.
    pub fn reset_requests(&self) {
        *lock(&self.sim.stats) = RequestStats::default();
        lock(&self.sim.log).clear();
    }

    /// The path and query of every request so far (the last 20,000), in
    /// arrival order, e.g. `/v1.0/users?$select=...&$top=999&$skiptoken=...`.
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.sim.log).iter().cloned().collect()
    }

    /// The last access token issued, for tests that prove it never leaks.
    pub fn last_access_token(&self) -> Option<SecretString> {
        lock(&self.sim.auth).last_token.clone()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        lock(&self.sim.auth).issued
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.sim.faults).push(faults::arm(fault));
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.sim.faults).clear();
    }

    /// Changes the latency added to every request.
    pub fn set_latency(&self, d: Duration) {
        *lock(&self.sim.latency) = d;
    }

    /// Changes the resource-unit budget (`None`: no throttling).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        *lock(&self.sim.bucket) = limit.map(faults::Bucket::new);
    }

    /// Changes the clock skew of tokens issued from now on (see
    /// [`SimulatedTenant::token_clock_skew`]).
    pub fn set_token_clock_skew(&self, d: Duration) {
        lock(&self.sim.auth).skew_secs = d.as_secs();
    }

    /// Revokes every access token issued so far (the next Graph request
    /// gets 401 `InvalidAuthenticationToken`).
    pub fn revoke_tokens(&self) {
        lock(&self.sim.auth).generation += 1;
    }

    /// Expires every delta token issued so far (400 `syncStateNotFound`).
    pub fn expire_delta_tokens(&self) {
        let mut c = lock(&self.sim.delta);
        c.generation += 1;
        c.expired_below = c.generation;
    }

    /// Resets the sync state (410 Gone on every delta token issued so far).
    pub fn reset_delta_sync(&self) {
        let mut c = lock(&self.sim.delta);
        c.generation += 1;
        c.reset_below = c.generation;
    }

    /// Sets the tenant up wrong in one way (on top of earlier ones).
    pub fn misconfigure(&self, m: Misconfig) {
        let mut a = lock(&self.sim.auth);
        match m {
            Misconfig::UnknownTenant => a.tenant_exists = false,
            Misconfig::UnknownClient => a.client_exists = false,
            Misconfig::WrongSecret => {
                a.secret = SecretString::new(format!("rotated-{}", uuid::Uuid::new_v4()))
            }
            Misconfig::ExpiredSecret => a.secret_expired = true,
            Misconfig::CertificateNotRegistered => {
                a.certs = RegisteredCert::from_pem(OTHER_CERT).into_iter().collect()
            }
            Misconfig::NoAdminConsent => a.roles.clear(),
            Misconfig::MissingPermission(p) => a.roles.retain(|r| *r != p),
            Misconfig::ServicePrincipalDeleted => self.sim.sp_deleted.store(true, Ordering::SeqCst),
        }
        a.generation += 1;
    }

    /// Undoes every misconfiguration.
    pub fn clear_misconfig(&self) {
        let mut a = lock(&self.sim.auth);
        a.tenant_exists = true;
        a.client_exists = true;
        a.secret = self.secret.clone();
        a.secret_expired = false;
        a.certs = RegisteredCert::from_pem(CLIENT_CERT).into_iter().collect();
        a.roles = DEFAULT_ROLES.iter().map(|s| s.to_string()).collect();
        a.generation += 1;
        self.sim.sp_deleted.store(false, Ordering::SeqCst);
    }
}

/// A Graph users page body exactly as the simulated tenant serves it, with
/// the provider's default `$select`: for decode benchmarks and tests.
pub fn users_page_body(users: &[SimUser]) -> Vec<u8> {
    let select: Vec<String> = crate::decode::USER_SELECT
        .iter()
        .map(|s| s.to_string())
        .collect();
    let page = graph::Page {
        context: "https://graph.microsoft.com/v1.0/$metadata#users".to_string(),
        value: users
            .iter()
            .map(|user| graph::UserView {
                user,
                select: &select,
            })
            .collect(),
        next: None,
    };
    serde_json::to_vec(&page).unwrap_or_default()
}
