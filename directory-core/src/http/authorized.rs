//! The authorized request path, written once: a token from the cache, the
//! `Authorization` header marked sensitive, the provider's scheme (Bearer,
//! or DPoP with a proof and a nonce retry), one refresh on a 401, the one
//! retry loop, and the provider's name on every error. A provider says only
//! how its requests are authorized and paced ([`Authorize`]).

use std::future::Future;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, RequestBuilder};
use url::Url;

use super::client::{HttpClient, HttpResponse};
use super::listing::Listing;
use super::origin::OriginGuard;
use super::retry::WaitHint;
use super::token::{AccessToken, TokenCache, TokenSource};
use crate::error::{Error, Result};

/// How a provider authorizes and paces its API requests: what differs
/// between providers on the request path. Everything else (the token cache,
/// the refresh on a 401, retries, the origin check, the provider's name on
/// errors) is [`AuthorizedClient`]'s.
pub trait Authorize: Send + Sync + 'static {
    /// The [`WaitHint`] of one request, made fresh for each request so it
    /// can remember what that request's answers said (Okta's retry
    /// headers name the throttled request).
    type Hint: WaitHint + Default;

    /// Adds the `Authorization` header for `token` to one attempt (and a
    /// proof, when the scheme has one, plus any header of the provider's
    /// own). Each attempt of the retry loop calls it again, so a proof is
    /// fresh per attempt. The default is `Bearer`, through
    /// [`authorization`].
    fn authorize(
        &self,
        req: RequestBuilder,
        method: &Method,
        url: &Url,
        token: &AccessToken,
    ) -> Result<RequestBuilder> {
        let _ = (method, url);
        Ok(req.header(AUTHORIZATION, authorization("Bearer", token)?))
    }

    /// Whether a refused answer asks for one immediate retry with the same
    /// token: a DPoP server that sent a fresh `DPoP-Nonce` (the scheme keeps
    /// the nonce here). Asked at most once per request, before the refresh
    /// on a 401. The default never retries.
    fn retry_at_once(&self, resp: &HttpResponse) -> bool {
        let _ = resp;
        false
    }

    /// Waits until the provider's own budget lets a request to `url` go
    /// (Okta's reserved share of a rate-limit bucket, Graph's resource
    /// units). Called before each send, refreshes included. The default
    /// does not wait.
    fn pace(&self, url: &Url) -> impl Future<Output = ()> + Send {
        let _ = url;
        async {}
    }

    /// Sees every answer the retry loop ended with (rate-limit headers,
    /// the server's clock). The default ignores them.
    fn observe(&self, url: &Url, resp: &HttpResponse) {
        let _ = (url, resp);
    }
}

/// `<scheme> <token>` as an `Authorization` header value, marked sensitive
/// so it never prints (reqwest and `http` leave it out of `Debug`).
pub fn authorization(scheme: &str, token: &AccessToken) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {}", token.secret.expose_secret()))
        .map_err(|_| {
            Error::invalid_response(
                "the token endpoint returned an access token that cannot be sent in a header",
            )
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The one authorized request path of a provider: an [`HttpClient`], a
/// [`TokenCache`], the provider's [`Authorize`] scheme, the configured
/// origin and the provider's name.
///
/// [`AuthorizedClient::get`]:
///
/// 1. refuses a URL off the configured origin (no token is ever sent
///    elsewhere);
/// 2. waits for the provider's budget ([`Authorize::pace`]);
/// 3. takes the token from the cache (fetching one if needed);
/// 4. sends through [`HttpClient::try_execute`] (retries per the policy and
///    the provider's [`WaitHint`]), each attempt authorized afresh
///    ([`Authorize::authorize`]) with the hint's retry headers
///    ([`WaitHint::mark_retry`]);
/// 5. on a refused answer, retries once at once if the scheme asks
///    ([`Authorize::retry_at_once`], a DPoP nonce), and on a 401 drops the
///    token and starts over once with a fresh one;
/// 6. returns the final response whatever its status: turning an error
///    body into a typed error is the provider's.
///
/// Every error it returns names the provider.
pub struct AuthorizedClient<S, A> {
    http: HttpClient,
    tokens: TokenCache<S>,
    auth: A,
    guard: OriginGuard,
    provider: String,
}

impl<S: TokenSource, A: Authorize> AuthorizedClient<S, A> {
    /// A client for the API at `origin` (only its scheme, host and port
    /// matter), named `provider` in errors.
    pub fn new(
        http: HttpClient,
        tokens: TokenCache<S>,
        auth: A,
        origin: &Url,
        provider: impl Into<String>,
    ) -> Self {
        Self {
            http,
            tokens,
            auth,
            guard: OriginGuard::new(origin),
            provider: provider.into(),
        }
    }

    /// The HTTP client (request counts, concurrency).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The token cache.
    pub fn tokens(&self) -> &TokenCache<S> {
        &self.tokens
    }

    /// The provider's scheme.
    pub fn auth(&self) -> &A {
        &self.auth
    }

    /// The provider's name, as errors carry it.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The listing at `url`, on this client's origin: see [`Listing`].
    pub fn listing(&self, url: Url) -> Listing {
        Listing::new(self.guard.clone(), url, &self.provider)
    }

    /// GETs `url` on the authorized path (see the type's docs) and returns
    /// the final response whatever its status. `what` names the request in
    /// logs and errors.
    pub async fn get(&self, what: &str, url: &Url) -> Result<HttpResponse> {
        self.send(what, Method::GET, url).await
    }

    async fn send(&self, what: &str, method: Method, url: &Url) -> Result<HttpResponse> {
        self.guard
            .check_url(url)
            .map_err(|e| e.with_provider(&self.provider))?;
        let mut refreshed = false;
        let mut retried_at_once = false;
        loop {
            self.auth.pace(url).await;
            let token = self
                .tokens
                .get()
                .await
                .map_err(|e| e.with_provider(&self.provider))?;
            let hint = A::Hint::default();
            let make = || {
                let req = self
                    .http
                    .reqwest()
                    .request(method.clone(), url.clone())
                    .header(ACCEPT, "application/json");
                let req = self.auth.authorize(req, &method, url, &token)?;
                Ok(hint.mark_retry(req))
            };
            let resp = self
                .http
                .try_execute(what, make, &hint)
                .await
                .map_err(|e| e.with_provider(&self.provider))?;
            self.auth.observe(url, &resp);
            if resp.is_success() {
                return Ok(resp);
            }
            if !retried_at_once && self.auth.retry_at_once(&resp) {
                tracing::debug!(what, provider = %self.provider, "retrying at once as the server asked (a new DPoP nonce)");
                retried_at_once = true;
                continue;
            }
            if resp.status == 401 && !refreshed {
                tracing::info!(what, provider = %self.provider, "the access token was rejected; refreshing it once");
                refreshed = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            return Ok(resp);
        }
    }
}

impl<S, A> std::fmt::Debug for AuthorizedClient<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedClient")
            .field("provider", &self.provider)
            .field("origin", &self.guard.origin())
            .finish_non_exhaustive()
    }
}
