//! Configuration: the builder, `from_env()`, and validation of every field.

use std::path::Path;
use std::time::Duration;

use directory_core::http::url::Url;
use directory_core::http::{
    in_range, parse_endpoint, ClientSettings, HttpClientBuilder, RetryPolicy,
};
use directory_core::{Error, Result, SecretString};

use crate::credential::PrivateJwk;
use crate::provider::OktaDirectory;

/// The largest org concurrency limit [`OktaDirectoryBuilder::build`] accepts.
const MAX_CONCURRENCY_LIMIT: usize = 10_000;

/// The largest page any Okta listing serves (groups: 10,000).
const MAX_PAGE_SIZE: u32 = 10_000;

/// Page sizes per endpoint. The defaults are the largest each endpoint allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// `GET /api/v1/users` (`limit`, at most 200 on most orgs).
    pub users: u32,
    /// `GET /api/v1/groups` (`limit`, at most 10,000).
    pub groups: u32,
    /// `GET /api/v1/groups/{id}/users` (`limit`, default and cap 1,000).
    pub group_members: u32,
    /// `GET /api/v1/apps/{id}/users` (`limit`, at most 500).
    pub app_users: u32,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            users: 200,
            groups: 10_000,
            group_members: 1_000,
            app_users: 500,
        }
    }
}

/// Builds an [`OktaDirectory`]; [`OktaDirectoryBuilder::build`] validates
/// every field and names the one that is wrong. `Debug` never shows the key:
/// it is a [`SecretString`] or a [`PrivateJwk`], which print `[redacted]`.
#[derive(Clone, Debug)]
pub struct OktaDirectoryBuilder {
    pub(crate) domain: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) private_jwk: Option<SecretString>,
    pub(crate) key: Option<PrivateJwk>,
    pub(crate) app_id: Option<String>,
    pub(crate) include_deprovisioned: bool,
    pub(crate) page_limits: PageLimits,
    pub(crate) settings: ClientSettings,
    pub(crate) concurrency_limit: usize,
    pub(crate) reserve_share: f64,
    pub(crate) dpop: DpopMode,
    pub(crate) system_log: bool,
}

impl Default for OktaDirectoryBuilder {
    fn default() -> Self {
        Self {
            domain: None,
            client_id: None,
            private_jwk: None,
            key: None,
            app_id: None,
            include_deprovisioned: true,
            page_limits: PageLimits::default(),
            settings: ClientSettings::default(),
            concurrency_limit: 75,
            reserve_share: 0.2,
            dpop: DpopMode::Auto,
            system_log: false,
        }
    }
}

/// Environment variables read by [`OktaDirectoryBuilder::from_env`].
pub mod env {
    /// The Okta domain, e.g. `acme.okta.com`.
    pub const DOMAIN: &str = "OKTA_DOMAIN";
    /// The API Services app's client id.
    pub const CLIENT_ID: &str = "OKTA_CLIENT_ID";
    /// The private key as JWK JSON.
    pub const PRIVATE_JWK: &str = "OKTA_PRIVATE_JWK";
    /// A file holding the private key JWK JSON (used when `OKTA_PRIVATE_JWK` is unset).
    pub const PRIVATE_JWK_FILE: &str = "OKTA_PRIVATE_JWK_FILE";
    /// The SSO (SAML) app's id; optional.
    pub const APP_ID: &str = "OKTA_APP_ID";
}

impl OktaDirectoryBuilder {
    directory_core::builder_setters! {
        /// The Okta domain: `acme.okta.com`, `https://acme.okta.com` or a custom
        /// domain. A path, query or `http://` (outside test mode) is refused.
        domain: Option<String>,
        /// The client id of the "API Services" app integration.
        client_id: Option<String>,
        /// The id of the SAML app used for SSO; without it no app assignments are
        /// fetched and `okta.apps.read` is not requested.
        app_id: Option<String>,
        /// Whether `users()` also lists `DEPROVISIONED` users, which Okta's plain
        /// list omits (default: yes, with a second, filtered listing).
        include_deprovisioned: bool,
        /// Whether incremental rounds read deletions from the System Log
        /// (default: no). On, every token request also asks for
        /// `okta.logs.read`; grant it on the API Services app's 'Okta API
        /// Scopes' tab first, since Okta may refuse a token request that names
        /// a scope the app was not granted. A token granted without it (see
        /// `check()`) makes rounds behave as with this off: deletions are caught
        /// by the scheduled full rounds.
        system_log: bool,
        /// The org's concurrency limit, a fact about the org rather than a
        /// setting of this client (default 75; 35 on Integrator Free orgs), 1 to
        /// 10,000. The default [`max_concurrency`](Self::max_concurrency) stays
        /// below it by the reserved share.
        concurrency_limit: usize,
        /// The share (0.0 to 0.9) of every rate-limit bucket and of the
        /// concurrency limit left free for the customer's other integrations
        /// (default 0.2).
        reserve_share: f64,
        /// Whether tokens are DPoP-bound: [`DpopMode::Auto`] (the default)
        /// detects it from the token endpoint's answer.
        dpop: DpopMode,
    }

    /// The app's private key as a JWK (JSON text, RSA or EC P-256, with
    /// `kid`), parsed in [`OktaDirectoryBuilder::build`]. Replaces a key
    /// given with [`OktaDirectoryBuilder::credential`].
    pub fn private_jwk(mut self, jwk_json: impl Into<SecretString>) -> Self {
        self.private_jwk = Some(jwk_json.into());
        self.key = None;
        self
    }

    /// The app's private key, already parsed (e.g. once for many
    /// providers). Replaces a key given with
    /// [`OktaDirectoryBuilder::private_jwk`].
    pub fn credential(mut self, key: PrivateJwk) -> Self {
        self.key = Some(key);
        self.private_jwk = None;
        self
    }

    directory_core::client_settings_setters! {
        settings,
        page_size: "Items per page for every listing, 1 to 10,000: each endpoint gets `n` or \
                    its own maximum if smaller (users 200, group members 1,000, app users \
                    500, groups 10,000). The default is each endpoint's maximum. \
                    [`page_limits`](Self::page_limits) sets them one by one.",
        max_concurrency: "Requests in flight at once across all streams, 1 to 1,024. \
                          Default: the org's [`concurrency_limit`](Self::concurrency_limit) \
                          less the [`reserve_share`](Self::reserve_share) (60 of 75), at \
                          most 1,024. More than that default is refused by `build()`: raise \
                          the concurrency limit (if the org's is higher) or lower the reserve.",
        member_concurrency: "Groups whose members are read at once during a snapshot, 1 to \
                             1,024. Default: [`max_concurrency`](Self::max_concurrency) less \
                             two, so the users and app-users listings (pages that must follow \
                             one another) always find a free request slot.",
    }

    /// Page sizes per endpoint (default: the largest each endpoint allows).
    /// Replaces a [`page_size`](Self::page_size).
    pub fn page_limits(mut self, limits: PageLimits) -> Self {
        self.page_limits = limits;
        self.settings.page_size = None;
        self
    }

    /// Reads the configuration from the environment: `OKTA_DOMAIN`,
    /// `OKTA_CLIENT_ID`, `OKTA_PRIVATE_JWK` (JSON) or `OKTA_PRIVATE_JWK_FILE`,
    /// and optionally `OKTA_APP_ID`. Missing variables are reported by
    /// [`OktaDirectoryBuilder::build`]; an unreadable key file here.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Reads the same variables as [`OktaDirectoryBuilder::from_env`]
    /// through `var`, e.g. from a map in tests or a host's secret store.
    /// Empty values count as unset.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let private_jwk = match (get(env::PRIVATE_JWK), get(env::PRIVATE_JWK_FILE)) {
            (Some(jwk), _) => Some(jwk),
            (None, Some(path)) => Some(read_key_file(Path::new(&path))?),
            (None, None) => None,
        };
        Ok(Self {
            domain: get(env::DOMAIN),
            client_id: get(env::CLIENT_ID),
            app_id: get(env::APP_ID),
            private_jwk: private_jwk.map(SecretString::new),
            ..Self::default()
        })
    }

    /// Validates every field and builds the provider.
    pub fn build(self) -> Result<OktaDirectory> {
        let config = self.validate()?;
        OktaDirectory::from_config(config)
    }

    fn validate(self) -> Result<Config> {
        let base = parse_domain(self.domain.as_deref(), self.settings.allow_insecure_http)?;
        let client_id = required("client_id", self.client_id.as_deref(), env::CLIENT_ID)?;
        if client_id.contains(char::is_whitespace) {
            return Err(Error::config("client_id", "contains white space"));
        }
        let key = self.checked_key()?;
        let app_id = self.checked_app_id()?;
        self.check_tuning()?;
        let concurrency = self
            .settings
            .max_concurrency
            .unwrap_or_else(|| self.derived_concurrency());
        Ok(Config {
            base,
            client_id,
            key,
            app_id,
            include_deprovisioned: self.include_deprovisioned,
            page_limits: self.effective_page_limits(),
            concurrency,
            member_concurrency: self
                .settings
                .member_concurrency
                .unwrap_or_else(|| concurrency.saturating_sub(2).max(1)),
            reserve_share: self.reserve_share,
            retry: self.settings.retry,
            timeout: self.settings.timeout,
            dpop: self.dpop,
            system_log: self.system_log,
        })
    }

    fn checked_key(&self) -> Result<PrivateJwk> {
        if let Some(key) = &self.key {
            return Ok(key.clone());
        }
        match self.private_jwk.as_ref().filter(|j| !j.is_blank()) {
            Some(text) => PrivateJwk::from_json(text.expose_secret()),
            None => Err(Error::config(
                "private_jwk",
                format!(
                    "missing; set it or {} / {}",
                    env::PRIVATE_JWK,
                    env::PRIVATE_JWK_FILE
                ),
            )),
        }
    }

    fn checked_app_id(&self) -> Result<Option<String>> {
        match self.app_id.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric()) => Ok(Some(id.to_string())),
            Some(_) => Err(Error::config(
                "app_id",
                "must be an Okta app id like 0oa1b2c3d4",
            )),
        }
    }

    fn check_tuning(&self) -> Result<()> {
        self.settings
            .validate(MAX_PAGE_SIZE, "the largest page an Okta listing serves")?;
        check_limits(&self.effective_page_limits())?;
        if !(0.0..=0.9).contains(&self.reserve_share) {
            return Err(Error::config(
                "reserve_share",
                "must be between 0.0 and 0.9",
            ));
        }
        in_range(
            "concurrency_limit",
            self.concurrency_limit,
            1,
            MAX_CONCURRENCY_LIMIT,
        )?;
        if let Some(n) = self.settings.max_concurrency {
            let allowed = self.derived_concurrency();
            if n > allowed {
                return Err(Error::config(
                    "max_concurrency",
                    format!(
                        "{n} is more than the org's concurrency limit {} less the reserved \
                         share {} allows ({allowed}); raise concurrency_limit if the org's \
                         limit is higher, or lower reserve_share",
                        self.concurrency_limit, self.reserve_share
                    ),
                ));
            }
        }
        Ok(())
    }

    /// [`PageLimits`], or `page_size` capped at each endpoint's maximum.
    fn effective_page_limits(&self) -> PageLimits {
        let Some(n) = self.settings.page_size else {
            return self.page_limits;
        };
        let max = PageLimits::default();
        PageLimits {
            users: n.min(max.users),
            groups: n.min(max.groups),
            group_members: n.min(max.group_members),
            app_users: n.min(max.app_users),
        }
    }

    /// The default requests in flight: below the org's limit by the
    /// reserved share, and at most what the HTTP client allows.
    fn derived_concurrency(&self) -> usize {
        let share = 1.0 - self.reserve_share;
        let below = (self.concurrency_limit as f64 * share).floor() as usize;
        let n = below.clamp(1, self.concurrency_limit.saturating_sub(1).max(1));
        n.min(HttpClientBuilder::MAX_CONCURRENCY)
    }
}

/// A validated configuration.
pub(crate) struct Config {
    pub(crate) base: Url,
    pub(crate) client_id: String,
    pub(crate) key: PrivateJwk,
    pub(crate) app_id: Option<String>,
    pub(crate) include_deprovisioned: bool,
    pub(crate) page_limits: PageLimits,
    /// Requests in flight at most.
    pub(crate) concurrency: usize,
    /// Group-member listings read at once.
    pub(crate) member_concurrency: usize,
    pub(crate) reserve_share: f64,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) dpop: DpopMode,
    pub(crate) system_log: bool,
}

fn required(field: &str, value: Option<&str>, var: &str) -> Result<String> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(Error::config(field, format!("missing; set it or {var}"))),
    }
}

fn read_key_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::config(
            "private_jwk",
            format!(
                "could not read {} ({}): {e}",
                env::PRIVATE_JWK_FILE,
                path.display()
            ),
        )
    })
}

/// `acme.okta.com`, `https://acme.okta.com/` -> `https://acme.okta.com/`.
pub(crate) fn parse_domain(domain: Option<&str>, allow_http: bool) -> Result<Url> {
    let raw = required("domain", domain, env::DOMAIN)?;
    let with_scheme = if raw.contains("://") {
        raw.clone()
    } else {
        format!("https://{raw}")
    };
    let url = parse_endpoint("domain", &with_scheme, allow_http)?;
    if url.path() != "/" {
        return Err(Error::config(
            "domain",
            format!(
                "`{raw}` has a path; give only the org's domain, e.g. acme.okta.com \
                 (no /oauth2/default, no /admin)"
            ),
        ));
    }
    if url.host_str().is_some_and(|h| h.contains("-admin.")) {
        return Err(Error::config(
            "domain",
            format!("`{raw}` is the admin console's domain; drop `-admin` (acme.okta.com)"),
        ));
    }
    Ok(url)
}

fn check_limits(l: &PageLimits) -> Result<()> {
    let check = |field: &str, v: u32, max: u32| {
        if v == 0 || v > max {
            Err(Error::config(field, format!("must be between 1 and {max}")))
        } else {
            Ok(())
        }
    };
    check("page_limits.users", l.users, 200)?;
    check("page_limits.groups", l.groups, 10_000)?;
    check("page_limits.group_members", l.group_members, 1_000)?;
    check("page_limits.app_users", l.app_users, 500)
}

/// Whether the provider binds its tokens with DPoP (RFC 9449).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopMode {
    /// Detect it: start without DPoP and switch when the token endpoint asks
    /// for a proof (`invalid_dpop_proof`), as service apps with "Require
    /// Demonstrating Proof of Possession" do.
    #[default]
    Auto,
    /// Always send a proof, from the first token request.
    Always,
    /// Never send one (an org that demands DPoP then fails the token request).
    Never,
}

impl DpopMode {
    /// Whether the first token request carries a proof.
    pub(crate) fn starts_on(self) -> bool {
        matches!(self, DpopMode::Always)
    }

    /// Whether the token endpoint's answer may switch DPoP on.
    pub(crate) fn detects(self) -> bool {
        matches!(self, DpopMode::Auto)
    }
}
