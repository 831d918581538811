//! Okta's side of directory-core's authorized request path
//! ([`AuthorizedClient`]): Bearer or DPoP (a proof per attempt and the
//! resource server's nonce), the rate-limit budget, Okta's clock, Okta's
//! error bodies turned into typed errors, and its cursor function (the
//! `Link rel="next"` header) for directory-core's one paginator.

use std::sync::Arc;
use std::time::Duration;

use directory_core::http::reqwest::header::AUTHORIZATION;
use directory_core::http::reqwest::{Method, RequestBuilder};
use directory_core::http::url::Url;
use directory_core::http::{
    authorization, next_link, AccessToken, Authorize, AuthorizedClient, HttpClient, HttpResponse,
    TokenCache,
};
use directory_core::{Error, Page, Pages, Result};

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
    pub(crate) api: AuthorizedClient<OktaTokenSource, OktaAuth>,
    base: Url,
}

/// How Okta requests are authorized and paced.
pub(crate) struct OktaAuth {
    dpop: Arc<Dpop>,
    budget: Budget,
    /// Okta's clock, from the `Date` of its answers (incremental rounds).
    pub(crate) clock: ServerClock,
}

impl Authorize for OktaAuth {
    type Hint = OktaWaitHint;

    /// `Authorization: Bearer|DPoP <token>` and, for DPoP tokens, a fresh
    /// proof with `ath` and the resource server's nonce.
    fn authorize(
        &self,
        req: RequestBuilder,
        method: &Method,
        url: &Url,
        token: &AccessToken,
    ) -> Result<RequestBuilder> {
        let req = req.header("content-type", OMIT_CREDENTIALS);
        if !token.token_type.eq_ignore_ascii_case("dpop") {
            return Ok(req.header(AUTHORIZATION, authorization("Bearer", token)?));
        }
        let nonce = self.dpop.nonce(true);
        let proof =
            self.dpop
                .key
                .proof(method.as_str(), url, nonce.as_deref(), Some(&token.secret))?;
        Ok(req
            .header(AUTHORIZATION, authorization("DPoP", token)?)
            .header("dpop", proof))
    }

    /// A 400 or 401 with a `DPoP-Nonce`: the nonce is kept for the retry.
    fn retry_at_once(&self, resp: &HttpResponse) -> bool {
        let nonce = resp.header("dpop-nonce");
        match nonce.filter(|_| matches!(resp.status, 400 | 401)) {
            Some(nonce) => {
                self.dpop.set_nonce(true, nonce);
                true
            }
            None => false,
        }
    }

    fn pace(&self, url: &Url) -> impl std::future::Future<Output = ()> + Send {
        self.budget.acquire(bucket_of(url.path()))
    }

    fn observe(&self, url: &Url, resp: &HttpResponse) {
        self.budget.observe(bucket_of(url.path()), resp);
        if resp.is_success() {
            self.clock.observe(resp);
        }
    }
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
        let auth = OktaAuth {
            dpop,
            budget: Budget::new(config.reserve_share),
            clock: ServerClock::default(),
        };
        let tokens = TokenCache::new(source, TOKEN_MARGIN);
        Ok(Self {
            api: AuthorizedClient::new(http, tokens, auth, &config.base, name),
            base: config.base.clone(),
        })
    }

    /// The org's name in errors and `Display`: `okta(<domain>)`.
    pub(crate) fn name(&self) -> &str {
        self.api.provider()
    }

    /// Okta's clock, read from its answers.
    pub(crate) fn clock(&self) -> &ServerClock {
        &self.api.auth().clock
    }

    /// `base` joined with `path`.
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        endpoint(&self.base, path)
    }

    /// GETs `url` (on the configured origin) and returns a 2xx response, or
    /// the typed error Okta's answer means. `what` names the call in errors.
    pub(crate) async fn get(&self, what: &str, url: &Url) -> Result<HttpResponse> {
        let resp = self.api.get(what, url).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(resource_error(&resp, self.name(), what))
        }
    }

    /// The pages read from each of `starts` in turn (URLs of one listing,
    /// the first being the listing) by directory-core's paginator; `decode`
    /// reads a page's items and [`next`] is Okta's cursor function.
    pub(crate) fn pages<T>(
        self: &Arc<Self>,
        starts: Vec<Url>,
        what: &'static str,
        decode: impl Fn(&HttpResponse) -> Result<Page<T, String>> + Send + Sync + 'static,
    ) -> Pages<T>
    where
        T: Clone + PartialEq + Send + 'static,
    {
        let Some(listing) = starts.first() else {
            return Box::pin(futures::stream::empty());
        };
        let (client, decode) = (self.clone(), Arc::new(decode));
        self.api
            .listing(listing.clone())
            .pages_from(starts, move |url| {
                let (client, decode) = (client.clone(), decode.clone());
                async move {
                    let resp = client.get(what, &url).await?;
                    decode(&resp).map_err(|e| e.with_provider(client.name()))
                }
            })
    }
}

/// Okta's cursor function: the `Link rel="next"` header, if any.
pub(crate) fn next(resp: &HttpResponse) -> Option<String> {
    next_link(resp.header_all("link"))
}

fn endpoint(base: &Url, path: &str) -> Result<Url> {
    base.join(path)
        .map_err(|e| Error::config("domain", format!("cannot form the URL for {path}: {e}")))
}
