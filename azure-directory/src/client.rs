//! Requests to Microsoft Graph: bearer token from the cache, one refresh on
//! a 401, the shared retry loop, and Graph error bodies turned into typed
//! errors that keep the Graph code and request id.

use std::time::SystemTime;

use directory_core::http::reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use directory_core::http::url::Url;
use directory_core::http::{
    parse_retry_after, AccessToken, HttpClient, HttpResponse, OriginGuard, ResponseFailure,
    RetryAfter, TokenCache,
};
use directory_core::{Error, ErrorKind, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::AadTokenSource;

/// The Graph permission a request needs, named in a 403's message.
pub(crate) type Permission = &'static str;

/// Everything needed to talk to Graph for one tenant.
pub(crate) struct GraphClient {
    pub http: HttpClient,
    pub tokens: TokenCache<AadTokenSource>,
    pub graph: Url,
    pub guard: OriginGuard,
    pub provider: String,
    pub budget: Option<crate::throttle::Budget>,
}

/// One page of a Graph collection.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphPage<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: Option<ErrorInner>,
}

#[derive(Deserialize, Default)]
struct ErrorInner {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "innerError")]
    inner: Option<serde_json::Value>,
}

impl GraphClient {
    /// A Graph v1.0 URL from a path and query, e.g. `users?$top=999`.
    pub fn v1(&self, path_and_query: &str) -> Result<Url> {
        self.graph
            .join(&format!("v1.0/{path_and_query}"))
            .map_err(|e| Error::config("graph_endpoint", format!("cannot build a Graph URL ({e})")))
    }

    /// Checks a next link of the listing that started at `listing`: the
    /// same origin and the same path.
    pub fn follow_listing(&self, link: &str, listing: &Url) -> Result<Url> {
        self.guard
            .check_listing(link, listing)
            .map_err(|e| e.with_provider(&self.provider))
    }

    /// GET `url` and decode one page; non-2xx answers are typed errors.
    pub async fn page<T: DeserializeOwned>(
        &self,
        what: &str,
        url: &Url,
        need: Permission,
    ) -> Result<GraphPage<T>> {
        let resp = self.get(what, url, need).await?;
        resp.json(what).map_err(|e| e.with_provider(&self.provider))
    }

    /// GET `url`; a non-2xx answer is turned into a typed error.
    pub async fn get(&self, what: &str, url: &Url, need: Permission) -> Result<HttpResponse> {
        let resp = self.get_any(what, url).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(self.graph_error(what, &resp, need))
        }
    }

    /// GET `url` with a bearer token, refreshing the token once if Graph
    /// answers 401; returns the final response whatever its status.
    pub async fn get_any(&self, what: &str, url: &Url) -> Result<HttpResponse> {
        let cost = crate::throttle::resource_units(url.path(), url.query().unwrap_or_default());
        let mut refreshed = false;
        loop {
            if let Some(b) = &self.budget {
                b.pace(cost).await;
            }
            let token = self.tokens.get().await?;
            let auth = self.bearer(&token)?;
            let make = || {
                self.http
                    .reqwest()
                    .get(url.clone())
                    .header(AUTHORIZATION, auth.clone())
                    .header(ACCEPT, "application/json")
            };
            let resp = self
                .http
                .execute(what, make, &RetryAfter)
                .await
                .map_err(|e| e.with_provider(&self.provider))?;
            if resp.status == 401 && !refreshed {
                tracing::info!(what, "Graph rejected the access token; refreshing it once");
                self.tokens.invalidate(&token).await;
                refreshed = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The `Authorization` header, marked sensitive so it is never printed.
    fn bearer(&self, token: &AccessToken) -> Result<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.secret.expose_secret()))
            .map_err(|_| {
                Error::invalid_response(
                    "the token endpoint returned an access token that cannot be sent in a header",
                )
                .with_provider(&self.provider)
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Turns a Graph error response into an error that says what to fix.
    pub fn graph_error(&self, what: &str, resp: &HttpResponse, need: Permission) -> Error {
        let body: ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
        let inner = body.error.unwrap_or_default();
        let code = inner.code;
        let (kind, message) = explain(what, resp.status, code.as_deref(), need);
        let failure = ResponseFailure {
            code,
            request_id: request_id(resp, inner.inner.as_ref()),
            // Graph's own words only where the kind does not say it all.
            said: inner.message.filter(|_| kind == ErrorKind::Rejected),
            retry_after: resp
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            ..ResponseFailure::new(resp.status)
        };
        failure.error(kind, message, &self.provider, "Graph")
    }
}

fn explain(what: &str, status: u16, code: Option<&str>, need: Permission) -> (ErrorKind, String) {
    match status {
        401 => (
            ErrorKind::Unauthenticated,
            format!(
            "{what}: Graph rejected a freshly issued access token. Check that the Graph endpoint \
             belongs to the same cloud as the login authority (tokens of one national cloud are \
             not valid in another)"),
        ),
        403 => (
            ErrorKind::PermissionDenied,
            format!(
                "{what}: access denied. The app needs the Microsoft Graph application permission \
             {need} with admin consent: App registrations -> API permissions -> Add a permission \
             -> Microsoft Graph -> Application permissions, then 'Grant admin consent'"
            ),
        ),
        404 => (ErrorKind::NotFound, format!("{what}: not found")),
        429 => (
            ErrorKind::RateLimited,
            format!(
            "{what}: Graph kept throttling the requests past the retry deadline; sync less often \
             or lower the concurrency"),
        ),
        500..=599 => (
            ErrorKind::Transient,
            format!("{what}: Graph failed (HTTP {status}); try again later"),
        ),
        _ if code.is_some_and(is_delta_reset) => (
            ErrorKind::Rejected,
            format!("{what}: the delta token is expired or was reset; a full sync is needed"),
        ),
        _ => (
            ErrorKind::Rejected,
            format!("{what}: Graph refused the request"),
        ),
    }
}

/// Graph codes that mean "the delta token is gone: start over".
pub(crate) fn is_delta_reset(code: &str) -> bool {
    [
        "syncStateNotFound",
        "resyncRequired",
        "syncStateInvalid",
        "fullSyncRequired",
        "badRequest_ExpiredSyncState",
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(code))
}

fn request_id(resp: &HttpResponse, inner: Option<&serde_json::Value>) -> Option<String> {
    resp.header("request-id")
        .map(String::from)
        .or_else(|| {
            inner
                .and_then(|i| i.get("request-id"))
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .or_else(|| resp.header("client-request-id").map(String::from))
}
