//! The request path shared by every stream and probe: a token from the
//! cache, a DPoP proof per request, the rate-limit budget, one refresh on a
//! 401, and Okta's error bodies turned into typed errors.

use std::sync::Arc;
use std::time::Duration;

use directory_core::http::reqwest::header::{HeaderValue, AUTHORIZATION};
use directory_core::http::reqwest::RequestBuilder;
use directory_core::http::url::Url;
use directory_core::http::{AccessToken, HttpClient, HttpResponse, OriginGuard, TokenCache};
use directory_core::{Error, Result};

use crate::auth::{Dpop, OktaTokenSource};
use crate::builder::Config;
use crate::errors::resource_error;
use crate::ratelimit::{bucket_of, Budget, OktaWaitHint};

/// Refresh tokens this long before they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

/// Asks Okta to leave credentials out of user objects (smaller pages).
const OMIT_CREDENTIALS: &str =
    "application/json; okta-response=omitCredentials,omitCredentialsLinks,omitTransitioningToStatus";

/// Everything a request needs; shared by all streams through an `Arc`.
pub(crate) struct Client {
    pub(crate) http: HttpClient,
    pub(crate) base: Url,
    pub(crate) guard: OriginGuard,
    pub(crate) name: String,
    pub(crate) tokens: TokenCache<OktaTokenSource>,
    pub(crate) dpop: Arc<Dpop>,
    /// Okta's clock, from the `Date` of its answers (incremental rounds).
    pub(crate) clock: ServerClock,
    budget: Budget,
}

/// The earliest `Date` Okta sent since [`ServerClock::begin`]: when an
/// incremental round started, by the server's clock rather than ours.
#[derive(Debug, Default)]
pub(crate) struct ServerClock {
    earliest: std::sync::Mutex<Option<std::time::SystemTime>>,
}

impl ServerClock {
    /// Forgets what was seen: a round starts.
    pub(crate) fn begin(&self) {
        *self.lock() = None;
    }

    /// The earliest date seen since [`ServerClock::begin`].
    pub(crate) fn earliest(&self) -> Option<std::time::SystemTime> {
        *self.lock()
    }

    fn observe(&self, resp: &HttpResponse) {
        let Some(at) = resp
            .header("date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
        else {
            return;
        };
        let mut earliest = self.lock();
        if earliest.is_none_or(|e| at < e) {
            *earliest = Some(at);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<std::time::SystemTime>> {
        self.earliest.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Client {
    pub(crate) fn new(config: &Config, name: String, scopes: Vec<&'static str>) -> Result<Self> {
        let http = HttpClient::builder()
            .max_concurrency(config.concurrency)
            .retry(config.retry.clone())
            .timeout(config.timeout)
            .user_agent(concat!("okta-directory/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let token_url = endpoint(&config.base, "oauth2/v1/token")?;
        let dpop = Arc::new(Dpop::new(config.dpop)?);
        let source = OktaTokenSource {
            http: http.clone(),
            token_url,
            client_id: config.client_id.clone(),
            key: config.key.clone(),
            scopes,
            dpop: dpop.clone(),
            provider: name.clone(),
        };
        Ok(Self {
            guard: OriginGuard::new(&config.base),
            http,
            base: config.base.clone(),
            name,
            tokens: TokenCache::new(source, TOKEN_MARGIN),
            dpop,
            clock: ServerClock::default(),
            budget: Budget::new(config.reserve_share),
        })
    }

    /// `base` joined with `path`.
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        endpoint(&self.base, path)
    }

    /// GETs `url` (on the configured origin) and returns a 2xx response, or
    /// the typed error Okta's answer means. `what` names the call in errors.
    pub(crate) async fn get(&self, what: &str, url: &Url) -> Result<HttpResponse> {
        let bucket = bucket_of(url.path());
        let mut refreshed = false;
        let mut nonce_retried = false;
        loop {
            self.budget.acquire(bucket).await;
            let token = self.tokens.get().await?;
            let resp = self.send(what, url, &token).await?;
            self.budget.observe(bucket, &resp);
            if resp.is_success() {
                self.clock.observe(&resp);
                return Ok(resp);
            }
            if matches!(resp.status, 400 | 401) && !nonce_retried {
                if let Some(nonce) = resp.header("dpop-nonce") {
                    tracing::debug!(what, "Okta sent a new DPoP nonce; retrying with it");
                    self.dpop.set_nonce(true, nonce);
                    nonce_retried = true;
                    continue;
                }
            }
            if resp.status == 401 && !refreshed {
                tracing::debug!(what, "401 from Okta; refreshing the access token once");
                refreshed = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            return Err(resource_error(&resp, &self.name, what));
        }
    }

    async fn send(&self, what: &str, url: &Url, token: &AccessToken) -> Result<HttpResponse> {
        let hint = OktaWaitHint::default();
        let make = || {
            let req = self.request(url, token)?;
            Ok(match hint.retry_headers() {
                Some((count, id)) => req
                    .header("x-okta-retry-for", id)
                    .header("x-okta-retry-count", count.to_string()),
                None => req,
            })
        };
        self.http
            .try_execute(what, make, &hint)
            .await
            .map_err(|e| e.with_provider(&self.name))
    }

    /// One GET with `Authorization: Bearer|DPoP <token>` (marked sensitive)
    /// and, for DPoP tokens, a fresh proof with `ath`.
    fn request(&self, url: &Url, token: &AccessToken) -> Result<RequestBuilder> {
        let is_dpop = token.token_type.eq_ignore_ascii_case("dpop");
        let scheme = if is_dpop { "DPoP" } else { "Bearer" };
        let mut auth = HeaderValue::from_str(&format!("{scheme} {}", token.secret.expose_secret()))
            .map_err(|_| Error::invalid_response("the access token is not a valid header value"))?;
        auth.set_sensitive(true);
        let mut req = self
            .http
            .reqwest()
            .get(url.clone())
            .header("accept", "application/json")
            .header("content-type", OMIT_CREDENTIALS)
            .header(AUTHORIZATION, auth);
        if is_dpop {
            let nonce = self.dpop.nonce(true);
            let proof = self
                .dpop
                .key
                .proof("GET", url, nonce.as_deref(), Some(&token.secret))?;
            req = req.header("dpop", proof);
        }
        Ok(req)
    }
}

fn endpoint(base: &Url, path: &str) -> Result<Url> {
    base.join(path)
        .map_err(|e| Error::config("domain", format!("cannot form the URL for {path}: {e}")))
}
