//! `HttpClient`: reqwest without redirects, with bounded concurrency, bounded
//! bodies, and the one retry loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use tokio::sync::Semaphore;

use super::retry::{RetryPolicy, WaitHint};
use crate::error::{Error, ErrorKind, Result};

/// A response whose body was read in full (within the size limit).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All values of a header.
    pub fn header_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
    }

    /// Decodes the body as JSON; errors name the JSON path.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        Error::decode_json(what, &self.body)
    }

    /// Decodes a body that carries secrets (a token response): errors name
    /// the JSON path but never quote the body.
    pub fn json_secret<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        Error::decode_json_secret(what, &self.body)
    }
}

/// Settings for [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpClientBuilder {
    timeout: Duration,
    connect_timeout: Duration,
    max_concurrency: usize,
    max_body_bytes: usize,
    retry: RetryPolicy,
    user_agent: String,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_concurrency: 8,
            max_body_bytes: 32 * 1024 * 1024,
            retry: RetryPolicy::default(),
            user_agent: concat!("directory-sync/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl HttpClientBuilder {
    /// Time allowed for one attempt, body included (default 60 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Time allowed to connect (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Requests in flight at once across all streams: 1 to
    /// [`HttpClientBuilder::MAX_CONCURRENCY`] (default 8).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    /// Largest body accepted: 1 byte to [`HttpClientBuilder::MAX_BODY_BYTES`]
    /// (default 32 MiB); larger is an error.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// The retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// The most requests in flight [`HttpClientBuilder::build`] accepts.
    pub const MAX_CONCURRENCY: usize = 1024;

    /// The largest body limit [`HttpClientBuilder::build`] accepts (1 GiB).
    pub const MAX_BODY_BYTES: usize = 1 << 30;

    /// The longest (connect) timeout [`HttpClientBuilder::build`] accepts.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

    /// Checks every number: an [`ErrorKind::InvalidConfig`] error names the
    /// setting and its allowed range.
    fn validate(&self) -> Result<()> {
        in_range(
            "max_concurrency",
            self.max_concurrency,
            1,
            Self::MAX_CONCURRENCY,
        )?;
        in_range(
            "max_body_bytes",
            self.max_body_bytes,
            1,
            Self::MAX_BODY_BYTES,
        )?;
        timeout_in_range("timeout", self.timeout)?;
        timeout_in_range("connect_timeout", self.connect_timeout)?;
        self.retry.validate("retry")
    }

    /// Builds the client; every setting out of its range is an
    /// [`ErrorKind::InvalidConfig`] error naming it.
    pub fn build(self) -> Result<HttpClient> {
        self.validate()?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::InvalidConfig, "could not build the HTTP client")
                    .with_source(e)
            })?;
        Ok(HttpClient {
            client,
            limiter: Arc::new(Semaphore::new(self.max_concurrency)),
            max_concurrency: self.max_concurrency,
            max_body_bytes: self.max_body_bytes,
            retry: self.retry,
            sent: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// The shared HTTP machinery every provider uses.
///
/// * Redirects are never followed, so credentials are never sent to a host a
///   server points at; a 3xx is an error.
/// * At most `max_concurrency` requests are in flight.
/// * Bodies are read in full inside the retry loop, so a connection cut
///   mid-body is retried like any transient failure.
/// * [`HttpClient::execute`] retries per the [`RetryPolicy`], asking the
///   provider's [`WaitHint`] what each response says about waiting. Every wait
///   is logged as a `tracing` event.
/// * Every request sent is counted ([`HttpClient::requests_sent`]): each
///   attempt of the retry loop, token requests included, across all clones.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    limiter: Arc<Semaphore>,
    max_concurrency: usize,
    max_body_bytes: usize,
    retry: RetryPolicy,
    sent: Arc<AtomicU64>,
}

enum Attempt {
    Done(HttpResponse),
    Retry(HttpResponse, Option<std::time::Duration>),
    Failed(Error),
}

impl HttpClient {
    /// Starts building a client.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::default()
    }

    /// The underlying reqwest client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Requests allowed in flight at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// HTTP requests this client and its clones have sent so far: every
    /// attempt of [`HttpClient::execute`] and [`HttpClient::try_execute`]
    /// that went out (retries each count; token requests count too, as a
    /// provider's token source shares its client). An attempt whose request
    /// could not be built is not sent and not counted; one that could not
    /// connect is counted. Throttled answers (429) are counted: they were
    /// sent.
    ///
    /// What one operation made is the difference of this counter around it
    /// (see [`HttpClient::requests_since`]); requests that other tasks sent
    /// through the same client meanwhile are in that difference too.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Requests sent since the counter read `before`
    /// ([`HttpClient::requests_sent`]).
    pub fn requests_since(&self, before: u64) -> u64 {
        self.requests_sent().saturating_sub(before)
    }

    /// Sends the request `make` builds, retrying as the policy and `hint`
    /// allow. `what` names the request in logs and errors (no secrets).
    ///
    /// Returns the final response whatever its status once it is not
    /// retryable or retries are used up, so the provider can turn its body
    /// into a typed error. Network failures that outlast the retries are
    /// [`ErrorKind::Transient`] errors.
    pub async fn execute(
        &self,
        what: &str,
        make: impl Fn() -> RequestBuilder,
        hint: &dyn WaitHint,
    ) -> Result<HttpResponse> {
        self.try_execute(what, || Ok(make()), hint).await
    }

    /// Like [`HttpClient::execute`], for requests whose building can fail
    /// (each attempt signs a fresh client assertion or DPoP proof): a build
    /// error ends the call before anything is sent, and is retried only if
    /// it is itself retryable.
    pub async fn try_execute(
        &self,
        what: &str,
        make: impl Fn() -> Result<RequestBuilder>,
        hint: &dyn WaitHint,
    ) -> Result<HttpResponse> {
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let outcome = match make() {
                Ok(req) => self.attempt(what, req, hint).await,
                Err(e) => Attempt::Failed(e),
            };
            let (last, wait) = match outcome {
                Attempt::Done(resp) => return Ok(resp),
                Attempt::Retry(resp, wait) => (Ok(resp), wait),
                Attempt::Failed(e) if e.is_retryable() => (Err(e), None),
                Attempt::Failed(e) => return Err(e),
            };
            let server_hint = wait.is_some();
            let wait = match wait {
                Some(w) => self.retry.hinted(w),
                None => self.retry.backoff(attempt),
            };
            let out_of_time = start.elapsed().saturating_add(wait) > self.retry.deadline;
            if attempt >= self.retry.max_attempts || out_of_time {
                tracing::warn!(what, attempt, ?wait, out_of_time, "giving up after retries");
                return match last {
                    Ok(resp) => Ok(resp),
                    Err(e) => Err(Error::new(
                        e.kind(),
                        format!("{} (gave up after {attempt} attempts)", e.message()),
                    )
                    .with_source(e)),
                };
            }
            let reason = match &last {
                Ok(r) => format!("HTTP {}", r.status),
                Err(e) => e.message().to_string(),
            };
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::info!(what, attempt, wait_ms, server_hint, %reason, "waiting before retry");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, what: &str, req: RequestBuilder, hint: &dyn WaitHint) -> Attempt {
        let Ok(_permit) = self.limiter.acquire().await else {
            return Attempt::Failed(Error::new(ErrorKind::Transient, "HTTP client closed"));
        };
        tracing::debug!(what, "request");
        self.sent.fetch_add(1, Ordering::Relaxed);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(network_error(what, e)),
        };
        let status = resp.status();
        if status.is_redirection() {
            return Attempt::Failed(redirect_refused(what, status, resp.headers()));
        }
        let headers = resp.headers().clone();
        let body = match self.read_body(what, resp).await {
            Ok(b) => b,
            Err(e) => return Attempt::Failed(e),
        };
        let resp = HttpResponse {
            status: status.as_u16(),
            headers,
            body,
        };
        tracing::debug!(
            what,
            status = resp.status,
            bytes = resp.body.len(),
            "response"
        );
        if resp.is_success() || !hint.is_retryable(&resp) {
            Attempt::Done(resp)
        } else {
            let wait = hint.wait(&resp);
            Attempt::Retry(resp, wait)
        }
    }

    async fn read_body(&self, what: &str, mut resp: reqwest::Response) -> Result<Bytes> {
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
        {
            return Err(too_large(what, self.max_body_bytes));
        }
        let mut buf = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len().saturating_add(chunk.len()) > self.max_body_bytes {
                        return Err(too_large(what, self.max_body_bytes));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Bytes::from(buf)),
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Transient,
                        format!("{what}: the connection broke while reading the response"),
                    )
                    .with_source(e.without_url()))
                }
            }
        }
    }
}

/// `value` within `min..=max`, or an [`ErrorKind::InvalidConfig`] error
/// naming `field` and the range: what every builder says of a number.
pub fn in_range(field: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::config(
            field,
            format!("{value} is outside {min}..={max}"),
        ))
    }
}

/// A timeout of at least 1 ms and at most [`HttpClientBuilder::MAX_TIMEOUT`],
/// or an [`ErrorKind::InvalidConfig`] error naming `field` and the range.
pub fn timeout_in_range(field: &str, value: Duration) -> Result<()> {
    let max = HttpClientBuilder::MAX_TIMEOUT;
    if value >= Duration::from_millis(1) && value <= max {
        Ok(())
    } else {
        Err(Error::config(
            field,
            format!("{value:?} is outside 1ms..={max:?}"),
        ))
    }
}

fn too_large(what: &str, limit: usize) -> Error {
    Error::invalid_response(format!(
        "{what}: the response body is larger than the {limit}-byte limit"
    ))
}

fn network_error(what: &str, e: reqwest::Error) -> Error {
    let detail = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the response"
    } else {
        "the request failed"
    };
    // reqwest's own message may include the URL; our URLs carry no secrets
    // (credentials travel in headers and bodies only).
    Error::new(ErrorKind::Transient, format!("{what}: {detail}")).with_source(e.without_url())
}

fn redirect_refused(what: &str, status: StatusCode, headers: &HeaderMap) -> Error {
    let to = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| "elsewhere".to_string());
    Error::invalid_response(format!(
        "{what}: the server redirected to {to}; redirects are not followed so credentials \
         are never sent to another host. Check the configured domain or endpoint."
    ))
    .with_status(status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(b: HttpClientBuilder, field: &str) {
        let e = b.build().expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.message().starts_with(&format!("{field}: ")), "{e}");
        assert!(
            e.message().contains("outside") || e.message().contains("must be"),
            "{e}"
        );
    }

    #[test]
    fn every_number_out_of_range_is_refused_naming_it() {
        let b = HttpClient::builder;
        refused(b().max_concurrency(usize::MAX), "max_concurrency");
        refused(b().max_concurrency(0), "max_concurrency");
        refused(b().max_body_bytes(0), "max_body_bytes");
        refused(b().max_body_bytes(usize::MAX), "max_body_bytes");
        refused(b().timeout(Duration::ZERO), "timeout");
        refused(b().timeout(Duration::MAX), "timeout");
        refused(b().connect_timeout(Duration::MAX), "connect_timeout");
        let retry = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        refused(b().retry(retry), "retry");
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let c = HttpClient::builder()
            .max_concurrency(HttpClientBuilder::MAX_CONCURRENCY)
            .max_body_bytes(HttpClientBuilder::MAX_BODY_BYTES)
            .timeout(HttpClientBuilder::MAX_TIMEOUT)
            .build()
            .expect("builds");
        assert_eq!(c.max_concurrency(), HttpClientBuilder::MAX_CONCURRENCY);
        assert!(HttpClient::builder().max_concurrency(1).build().is_ok());
    }
}
