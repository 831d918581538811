//! The one authorized request path ([`AuthorizedClient`]) against real local
//! HTTP servers (wiremock): one refresh on a 401, one retry at once when the
//! scheme asks (a DPoP nonce), nothing sent off the configured origin, the
//! provider's name on every error, the header marked sensitive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use directory_core::http::reqwest::header::AUTHORIZATION;
use directory_core::http::reqwest::{Method, RequestBuilder};
use directory_core::http::url::Url;
use directory_core::http::{
    authorization, AccessToken, Authorize, AuthorizedClient, HttpClient, HttpResponse, RetryAfter,
    RetryPolicy, TokenCache, TokenSource,
};
use directory_core::{ErrorKind, Result, SecretString};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Hands out `t0`, `t1`... (the authorization server is not what is tested).
#[derive(Default)]
struct Numbered(AtomicU64);

#[async_trait]
impl TokenSource for Numbered {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new(
            SecretString::new(format!("t{n}")),
            "Bearer",
            Duration::from_secs(3600),
        ))
    }
}

/// Bearer (the default), and a nonce kept from a 401 that carries one,
/// sent back in `x-nonce` (the shape of Okta's DPoP nonce dance).
#[derive(Default)]
struct NonceScheme {
    nonce: Mutex<Option<String>>,
}

impl Authorize for NonceScheme {
    type Hint = RetryAfter;

    fn authorize(
        &self,
        req: RequestBuilder,
        _method: &Method,
        _url: &Url,
        token: &AccessToken,
    ) -> Result<RequestBuilder> {
        let req = req.header(AUTHORIZATION, authorization("Bearer", token)?);
        Ok(match self.nonce.lock().unwrap().clone() {
            Some(n) => req.header("x-nonce", n),
            None => req,
        })
    }

    fn retry_at_once(&self, resp: &HttpResponse) -> bool {
        let nonce = resp.header("dpop-nonce").filter(|_| resp.status == 401);
        *self.nonce.lock().unwrap() = nonce.map(String::from);
        nonce.is_some()
    }
}

fn client(origin: &str) -> AuthorizedClient<Numbered, NonceScheme> {
    let http = HttpClient::builder()
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let tokens = TokenCache::new(Numbered::default(), Duration::from_secs(60));
    let origin = Url::parse(origin).unwrap();
    AuthorizedClient::new(http, tokens, NonceScheme::default(), &origin, "test(org)")
}

fn auth_headers(reqs: &[wiremock::Request]) -> Vec<String> {
    reqs.iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_401_drops_the_token_and_retries_once_with_a_fresh_one() {
    let server = MockServer::start().await;
    Mock::given(path("/ok"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let c = client(&server.uri());

    let url = Url::parse(&format!("{}/ok", server.uri())).unwrap();
    let resp = c.get("GET /ok", &url).await.unwrap();
    assert_eq!(resp.status, 200);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(auth_headers(&sent), ["Bearer t0", "Bearer t1"]);
    assert_eq!(c.tokens().fetches(), 2);

    // Rejected again after the refresh: the 401 comes back, no third try.
    let url = Url::parse(&format!("{}/never", server.uri())).unwrap();
    let resp = c.get("GET /never", &url).await.unwrap();
    assert_eq!(resp.status, 401);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(auth_headers(&sent[2..]), ["Bearer t1", "Bearer t2"]);
    assert_eq!(c.tokens().fetches(), 3);
}

#[tokio::test]
async fn a_nonce_is_followed_once_with_the_same_token() {
    let server = MockServer::start().await;
    Mock::given(path("/r"))
        .and(header("x-nonce", "n1"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(401).insert_header("dpop-nonce", "n1"))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let url = Url::parse(&format!("{}/r", server.uri())).unwrap();
    assert_eq!(c.get("GET /r", &url).await.unwrap().status, 200);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(auth_headers(&sent), ["Bearer t0", "Bearer t0"]);
    assert_eq!(c.tokens().fetches(), 1);
}

#[tokio::test]
async fn nothing_is_sent_off_the_origin_and_errors_name_the_provider() {
    let ours = MockServer::start().await;
    let other = MockServer::start().await;
    let c = client(&ours.uri());
    let url = Url::parse(&format!("{}/steal", other.uri())).unwrap();
    let err = c.get("GET /steal", &url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert_eq!(err.provider(), Some("test(org)"));
    assert!(other.received_requests().await.unwrap().is_empty());
    assert_eq!(c.tokens().fetches(), 0, "no token was even fetched");

    // A network failure on the origin names the provider too.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let c = client(&closed);
    let err = c
        .get("GET /x", &Url::parse(&format!("{closed}/x")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.provider(), Some("test(org)"));
}

#[test]
fn the_authorization_header_is_sensitive_and_never_printed() {
    let tok = AccessToken::new(
        SecretString::new("tok-secret-123"),
        "Bearer",
        Duration::from_secs(60),
    );
    let value = authorization("DPoP", &tok).unwrap();
    assert!(value.is_sensitive());
    assert!(!format!("{value:?}").contains("tok-secret-123"));
    let bad = AccessToken::new(SecretString::new("a\nb"), "Bearer", Duration::from_secs(60));
    assert_eq!(
        authorization("Bearer", &bad).unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
}
