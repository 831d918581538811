//! Fault injection and misconfiguration switches for the simulated org.

use std::time::Duration;

/// What goes wrong with a matching response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this status and Okta's error body. A 429 carries
    /// `X-Rate-Limit-*` headers with a reset one second ahead (`E0000047`).
    Status(u16),
    /// A concurrency 429: `X-Rate-Limit-Limit` and `-Remaining` both 0.
    ConcurrencyLimited,
    /// Wait this long before answering (past the client's timeout to stall).
    Delay(Duration),
    /// Send half the body, then cut the connection.
    CutBody,
    /// Send a complete response whose JSON stops half-way.
    TruncatedJson,
    /// Send a complete response with a well-formed body of the wrong shape
    /// (a login that is a list).
    MalformedJson,
    /// Send an empty page whose next link continues where this one was.
    EmptyPage,
    /// Send a next link that repeats the current request.
    CyclicNext,
    /// Send a next link to another host.
    ForeignNext,
    /// Answer `302 Found` with this `Location` (redirects must not be followed).
    Redirect(String),
}

/// A fault: what happens, to which requests, how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) path: Option<String>,
    pub(crate) skip: u32,
    pub(crate) times: Option<u32>,
}

impl Fault {
    /// A fault of `kind` for the next request (any path), once.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            path: None,
            skip: 0,
            times: Some(1),
        }
    }

    /// `Fault::new(FaultKind::Status(status))`.
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status(status))
    }

    /// The token endpoint answers 503 until cleared.
    pub fn token_endpoint_down() -> Self {
        Self::status(503).on_path("/oauth2/v1/token").always()
    }

    /// Only requests whose path contains `fragment` (e.g. `/api/v1/users`,
    /// `/users` for group members too, `/oauth2/`).
    pub fn on_path(mut self, fragment: impl Into<String>) -> Self {
        self.path = Some(fragment.into());
        self
    }

    /// Let `n` matching requests through first.
    pub fn after(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    /// Apply to `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Apply to every matching request until the faults are cleared.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    /// Whether this fault takes the request; counts it down if so.
    pub(crate) fn take(&mut self, path: &str) -> bool {
        if self.path.as_deref().is_some_and(|p| !path.contains(p)) {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        match &mut self.times {
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }

    pub(crate) fn spent(&self) -> bool {
        self.times == Some(0)
    }
}

/// A way the org can be set up wrong, each producing one `check()` error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misconfig {
    /// Nothing Okta answers here: every path is a 404 HTML page.
    UnknownDomain,
    /// The org knows a different client id.
    WrongClientId,
    /// The app holds no key with the client's `kid`.
    KeyNotRegistered,
    /// The app holds a different public key under the client's `kid`.
    BadSignature,
    /// The org's clock runs behind by this many seconds, so assertions look
    /// issued in the future.
    ClockSkew(u64),
    /// Every DPoP proof is refused (`invalid_dpop_proof`) by the resource server.
    DpopMismatch,
    /// Only these scopes are granted (none of the requested ones: `consent_required`).
    GrantedScopes(Vec<String>),
    /// The service app has no admin role: 403 `E0000006` on every resource.
    NoAdminRole,
    /// The SAML app has another id: 404 `E0000007` for the configured one.
    WrongAppId,
}

/// The switches in force.
#[derive(Debug, Clone, Default)]
pub(crate) struct Switches {
    pub(crate) unknown_domain: bool,
    pub(crate) wrong_client_id: bool,
    pub(crate) key_not_registered: bool,
    pub(crate) bad_signature: bool,
    pub(crate) clock_skew: u64,
    pub(crate) dpop_mismatch: bool,
    pub(crate) granted: Option<Vec<String>>,
    pub(crate) no_admin_role: bool,
    pub(crate) wrong_app_id: bool,
}

impl Switches {
    pub(crate) fn apply(&mut self, m: Misconfig) {
        match m {
            Misconfig::UnknownDomain => self.unknown_domain = true,
            Misconfig::WrongClientId => self.wrong_client_id = true,
            Misconfig::KeyNotRegistered => self.key_not_registered = true,
            Misconfig::BadSignature => self.bad_signature = true,
            Misconfig::ClockSkew(s) => self.clock_skew = s,
            Misconfig::DpopMismatch => self.dpop_mismatch = true,
            Misconfig::GrantedScopes(s) => self.granted = Some(s),
            Misconfig::NoAdminRole => self.no_admin_role = true,
            Misconfig::WrongAppId => self.wrong_app_id = true,
        }
    }
}

/// Time the stall default uses: longer than any test's client timeout.
pub const STALL: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_paths_skip_and_count_down() {
        let mut f = Fault::status(500).on_path("/groups").after(1).times(2);
        assert!(!f.take("/api/v1/users"));
        assert!(!f.take("/api/v1/groups"));
        assert!(f.take("/api/v1/groups"));
        assert!(f.take("/api/v1/groups/x/users"));
        assert!(!f.take("/api/v1/groups"));
        assert!(f.spent());
    }
}
