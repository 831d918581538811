//! The shared HTTP machinery against real local HTTP servers (wiremock).
//!
//! No test here reads a clock: the requests cross real sockets, so tokio's
//! paused clock would jump past the client's timeouts while a response is on
//! its way. Waits are checked by what the client decided (its "waiting
//! before retry" and "giving up" events) and by what the server received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use directory_core::http::{
    next_link, AccessToken, HttpClient, OriginGuard, RetryAfter, RetryPolicy, TokenCache,
    TokenSource,
};
use directory_core::testing::RetryLog;
use directory_core::{paginate, ErrorKind, Page, Result, SecretString};
use futures::TryStreamExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(policy: RetryPolicy) -> HttpClient {
    HttpClient::builder().retry(policy).build().unwrap()
}

fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(400),
        deadline: Duration::from_secs(20),
    }
}

async fn get(c: &HttpClient, url: String) -> Result<directory_core::http::HttpResponse> {
    c.execute("GET /thing", || c.reqwest().get(&url), &RetryAfter)
        .await
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for_not_less() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let c = client(quick_policy());
    let retries = RetryLog::capture();
    let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
    assert_eq!(resp.status, 200);
    // One wait: the server's whole second (plus at most 10% of jitter), not
    // the 20-40 ms the policy's own backoff would have chosen.
    let waits = retries.waits();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].server_hint, "the wait is the server's");
    let ms = waits[0].wait.as_millis();
    assert!((1000..=1100).contains(&ms), "waited {ms} ms");
    assert!(retries.give_ups().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_backoff() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let c = client(quick_policy());
    let retries = RetryLog::capture();
    let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
    assert_eq!(resp.status, 200);
    // Equal jitter: half of 40 ms to 40 ms, then half of 80 ms to 80 ms.
    let waits = retries.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits.iter().all(|w| !w.server_hint), "{waits:?}");
    assert!((20..=40).contains(&waits[0].wait.as_millis()), "{waits:?}");
    assert!((40..=80).contains(&waits[1].wait.as_millis()), "{waits:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn attempts_are_bounded_and_the_last_response_is_returned() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(500).set_body_string("{\"error\":\"x\"}"))
        .mount(&server)
        .await;
    let c = client(RetryPolicy {
        max_attempts: 3,
        ..quick_policy()
    });
    let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
    assert_eq!(resp.status, 500);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_wait_past_the_deadline_is_not_started() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    let c = client(RetryPolicy {
        deadline: Duration::from_secs(2),
        ..quick_policy()
    });
    let retries = RetryLog::capture();
    let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
    assert_eq!(resp.status, 429);
    assert!(retries.waits().is_empty(), "no wait was started");
    assert_eq!(retries.give_ups(), [true], "out of time");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Issue 13: a slow first answer (so time has passed) with the largest
/// `Retry-After` a server can send, in each of its forms. The wait is capped
/// at the deadline, so it is not started: the 429 comes back, no panic.
#[tokio::test]
async fn a_huge_retry_after_on_a_slow_answer_is_capped_not_a_panic() {
    for hint in [
        "18446744073709551615",
        "9223372036854775807",
        "1e300",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/thing"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", hint)
                    .set_delay(Duration::from_millis(1100)),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(path("/thing"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let c = client(quick_policy());
        let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
        assert_eq!(
            resp.status, 429,
            "{hint}: the server's wait is past the deadline"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{hint}");
    }
}

#[tokio::test]
async fn total_deadline_bounds_many_short_waits() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        max_attempts: 100,
        deadline: Duration::from_millis(2500),
        ..quick_policy()
    };
    let c = client(policy);
    let retries = RetryLog::capture();
    let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
    assert_eq!(resp.status, 503);
    // The deadline, not the 100 attempts, ended it: the waits started fit
    // in the deadline, the one that would not was not started.
    assert_eq!(retries.give_ups(), [true], "out of time");
    let waits = retries.waits();
    let waited: Duration = waits.iter().map(|w| w.wait).sum();
    assert!(waited <= Duration::from_millis(2500), "{waits:?}");
    assert!(
        waits
            .iter()
            .all(|w| w.server_hint && w.wait >= Duration::from_secs(1)),
        "{waits:?}"
    );
    let n = server.received_requests().await.unwrap().len();
    assert_eq!(n, waits.len() + 1, "one request after each wait");
    assert!((2..=3).contains(&n), "{n} requests");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let c = client(quick_policy());
    let resp = get(&c, format!("{}/thing", server.uri())).await.unwrap();
    assert_eq!(resp.status, 403);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn network_failures_are_transient_errors_after_retries() {
    // Bind and drop a listener: nothing accepts on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(RetryPolicy {
        max_attempts: 2,
        ..quick_policy()
    });
    let err = get(&c, format!("http://127.0.0.1:{port}/thing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.message().contains("gave up after 2 attempts"), "{err}");
}

#[tokio::test]
async fn redirects_are_refused_and_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    let c = client(quick_policy());
    let url = format!("{}/thing", server.uri());
    let err = c
        .execute(
            "GET /thing",
            || c.reqwest().get(&url).bearer_auth("tok"),
            &RetryAfter,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("redirect"), "{err}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(5000)))
        .mount(&server)
        .await;
    let c = HttpClient::builder().max_body_bytes(1000).build().unwrap();
    let err = get(&c, format!("{}/thing", server.uri()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

/// A minimal provider-style page fetch: items in the body, next page in `Link`.
async fn fetch_page(
    c: HttpClient,
    guard: OriginGuard,
    url: String,
) -> Result<Page<serde_json::Value, String>> {
    let checked = guard.check(&url)?;
    let resp = c
        .execute("GET page", || c.reqwest().get(checked.clone()), &RetryAfter)
        .await?;
    let items: Vec<serde_json::Value> = resp.json("page")?;
    Ok(Page::new(items, next_link(resp.header_all("link"))))
}

#[tokio::test]
async fn next_link_to_another_origin_is_refused_and_nothing_is_sent_there() {
    let evil = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&evil)
        .await;
    let server = MockServer::start().await;
    Mock::given(path("/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("[1,2]")
                .insert_header(
                    "link",
                    format!("<{}/users?after=2>; rel=\"next\"", evil.uri()),
                ),
        )
        .mount(&server)
        .await;
    let c = client(quick_policy());
    let base = directory_core::http::url::Url::parse(&server.uri()).unwrap();
    let guard = OriginGuard::new(&base);
    let pages = paginate(format!("{}/users", server.uri()), move |url| {
        fetch_page(c.clone(), guard.clone(), url)
    });
    let err = pages.try_concat().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.message().contains("outside the configured origin"),
        "{err}"
    );
    assert!(evil.received_requests().await.unwrap().is_empty());
}

/// A token source that asks a real local token endpoint.
struct EndpointSource {
    client: HttpClient,
    url: String,
    calls: AtomicU64,
    lifetime: Duration,
}

#[async_trait]
impl TokenSource for EndpointSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let resp = self
            .client
            .execute(
                "POST token",
                || self.client.reqwest().post(&self.url),
                &RetryAfter,
            )
            .await?;
        let body: serde_json::Value = resp.json("token response")?;
        let tok = body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(AccessToken::new(
            SecretString::new(tok),
            "Bearer",
            self.lifetime,
        ))
    }
}

async fn token_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    serde_json::json!({"access_token": "tok-secret-123", "expires_in": 3600}),
                )
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn concurrent_requests_share_one_token_refresh() {
    let server = token_server().await;
    let cache = Arc::new(TokenCache::new(
        EndpointSource {
            client: client(quick_policy()),
            url: format!("{}/token", server.uri()),
            calls: AtomicU64::new(0),
            lifetime: Duration::from_secs(3600),
        },
        Duration::from_secs(60),
    ));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get()
                    .await
                    .map(|t| t.secret.expose_secret().to_string())
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "tok-secret-123");
    }
    assert_eq!(cache.source().calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // A 401 invalidates it: the next get fetches once more, a second
    // invalidation of the same stale token does nothing.
    let stale = cache.get().await.unwrap();
    cache.invalidate(&stale).await;
    let fresh = cache.get().await.unwrap();
    cache.invalidate(&stale).await;
    assert_eq!(cache.get().await.unwrap().issued_at, fresh.issued_at);
    assert_eq!(cache.fetches(), 2);
    assert!(!format!("{fresh:?}").contains("tok-secret-123"));
}

#[tokio::test]
async fn a_request_that_cannot_be_built_fails_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let c = client(quick_policy());
    let err = c
        .try_execute(
            "GET signed",
            || {
                Err(directory_core::Error::new(
                    ErrorKind::InvalidCredential,
                    "the key cannot sign",
                ))
            },
            &RetryAfter,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredential);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_attempt_sent_is_counted_across_clones_and_unbuilt_requests_are_not() {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let mut policy = quick_policy();
    policy.base_delay = Duration::from_millis(1);
    let c = client(policy);
    let clone = c.clone();
    assert_eq!(c.requests_sent(), 0);
    let url = format!("{}/thing", server.uri());
    assert_eq!(get(&c, url.clone()).await.unwrap().status, 200);
    let before = clone.requests_sent();
    assert_eq!(get(&clone, url).await.unwrap().status, 200);
    let unbuilt = c
        .try_execute(
            "unbuildable",
            || Err(directory_core::Error::config("key", "bad")),
            &RetryAfter,
        )
        .await;
    assert!(unbuilt.is_err());
    let served = server.received_requests().await.unwrap().len() as u64;
    assert_eq!(served, 4, "two 503s, then two successes");
    assert_eq!(c.requests_sent(), served);
    assert_eq!(c.requests_since(before), 1);
}
