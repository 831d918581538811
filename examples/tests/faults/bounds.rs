//! A misbehaving server cannot make the client send without bound: every
//! request is retried at most `max_attempts` times, a rejected token is
//! refreshed once per request, a DPoP nonce is taken up once, a page larger
//! than the body limit is refused, and neither endless empty pages nor a
//! rate-limit reset years away keep a sync running.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use directory_core::{DirectoryProvider, ErrorKind};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::both_orgs;
use crate::orgs::{quick_retry, within_limit, Kind};
use crate::wire::{first_users_error, WireApi};

both_orgs!(
    a_server_failing_every_request_gets_a_bounded_number,
    a_server_refusing_every_token_gets_one_refresh_per_request,
    an_oversized_page_is_refused,
    endless_empty_pages_with_fresh_cursors_end,
    endless_repeated_pages_with_fresh_cursors_end,
);

async fn a_server_failing_every_request_gets_a_bounded_number(kind: Kind) {
    let api = WireApi::start(kind).await;
    api.serve_every_get(ResponseTemplate::new(500).set_body_string("{}"))
        .await;
    let p = api.provider().await;
    let e = crate::orgs::sync(p.as_ref()).await.expect_err("fails");
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    let gets = api.server.received_requests().await.unwrap_or_default();
    let gets = gets.iter().filter(|r| r.method.as_str() == "GET").count() as u32;
    // Users, groups and app assignments run at once; each tries at most
    // `max_attempts` times, and the first failure stops the rest.
    let most = 3 * quick_retry().max_attempts;
    assert!(gets <= most, "{gets} requests, at most {most}");
}

/// Every API call answers 401: each request refreshes the token once, then
/// the sync fails with `Unauthenticated`; no loop of refreshes.
async fn a_server_refusing_every_token_gets_one_refresh_per_request(kind: Kind) {
    let api = WireApi::start(kind).await;
    let refused = ResponseTemplate::new(401)
        .insert_header("www-authenticate", "Bearer error=\"invalid_token\"")
        .set_body_json(serde_json::json!({
            "errorCode": "E0000011", "errorSummary": "Invalid token provided",
            "error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}
        }));
    api.serve_every_get(refused).await;
    let p = api.provider().await;
    let e = crate::orgs::sync(p.as_ref()).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    let got = api.server.received_requests().await.unwrap_or_default();
    let (gets, posts) = got
        .iter()
        .fold((0, 0), |(g, p), r| match r.method.as_str() {
            "GET" => (g + 1, p),
            _ => (g, p + 1),
        });
    // Three listings start at once; each GET is retried once after a refresh.
    assert!(gets <= 6, "{gets} GETs");
    assert!(posts <= 4, "{posts} token requests");
}

async fn an_oversized_page_is_refused(kind: Kind) {
    let api = WireApi::start(kind).await;
    let huge = vec![b' '; 33 * 1024 * 1024];
    Mock::given(method("GET"))
        .and(path(api.users_path()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(huge))
        .mount(&api.server)
        .await;
    let p = api.provider().await;
    let e = first_users_error(p.as_ref()).await;
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("larger than"), "{e}");
}

/// Serves empty pages forever, each linking to a new cursor.
struct EndlessEmpty {
    kind: Kind,
    base: String,
    served: Arc<AtomicU64>,
    /// Each page repeats the same user instead of being empty.
    repeat: bool,
}

impl Respond for EndlessEmpty {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::SeqCst) + 1;
        match self.kind {
            Kind::Okta => ResponseTemplate::new(200)
                .set_body_json(if self.repeat {
                    serde_json::json!([{"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "ada@acme.test", "email": "ada@acme.test"}}])
                } else {
                    serde_json::json!([])
                })
                .insert_header(
                    "link",
                    format!("<{}/api/v1/users?after=p{n}>; rel=\"next\"", self.base).as_str(),
                ),
            Kind::Azure => ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "value": if self.repeat {
                    serde_json::json!([{"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
                        "userPrincipalName": "ada@acme.test", "accountEnabled": true}])
                } else {
                    serde_json::json!([])
                },
                "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=p{n}", self.base),
            })),
        }
    }
}

/// A server that never ends a listing (an empty page with a new cursor,
/// forever) must not keep a sync running and sending forever.
async fn endless_empty_pages_with_fresh_cursors_end(kind: Kind) {
    endless_pages_end(kind, false).await;
}

/// The same, with every page repeating the same user.
async fn endless_repeated_pages_with_fresh_cursors_end(kind: Kind) {
    endless_pages_end(kind, true).await;
}

async fn endless_pages_end(kind: Kind, repeat: bool) {
    let api = WireApi::start(kind).await;
    let served = Arc::new(AtomicU64::new(0));
    let endless = EndlessEmpty {
        kind,
        base: api.server.uri(),
        served: served.clone(),
        repeat,
    };
    Mock::given(method("GET"))
        .and(path(api.users_path()))
        .respond_with(endless)
        .mount(&api.server)
        .await;
    let p = api.provider().await;
    let limit = Duration::from_secs(10);
    let got = tokio::time::timeout(limit, first_users_error(p.as_ref())).await;
    let served = served.load(Ordering::SeqCst);
    let e = got.unwrap_or_else(|_| panic!("still listing after {limit:?} and {served} pages"));
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(served <= 110, "stopped after {served} pages");
}

/// Okta: a 200 saying the bucket is spent until a reset years away must not
/// park the sync until then.
#[tokio::test]
async fn okta_a_rate_limit_reset_far_in_the_future_does_not_park_the_sync() {
    let api = WireApi::start(Kind::Okta).await;
    let years = SystemTime::now() + Duration::from_secs(10 * 365 * 24 * 3600);
    let reset = years
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let next = format!("<{}/api/v1/users?after=2>; rel=\"next\"", api.server.uri());
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .and(query_param("after", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .with_priority(1)
        .mount(&api.server)
        .await;
    // The second listing (deprovisioned users) is one empty page.
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .and(query_param("filter", "status eq \"DEPROVISIONED\""))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .with_priority(1)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("[]")
                .insert_header("link", next.as_str())
                .insert_header("x-rate-limit-limit", "600")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .mount(&api.server)
        .await;
    let p = api.provider().await;
    let listing = async {
        use futures::TryStreamExt;
        p.users().try_collect::<Vec<_>>().await
    };
    let got = tokio::time::timeout(Duration::from_secs(10), listing).await;
    match got {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}"),
        Err(_) => panic!("the sync was parked waiting for a reset ten years away"),
    }
}

/// Okta with DPoP: a server answering every call with a 401 and a fresh
/// `DPoP-Nonce` gets one nonce retry and one token refresh per request, then
/// a typed error; never an endless nonce dance.
#[tokio::test]
async fn okta_a_fresh_dpop_nonce_on_every_401_is_bounded() {
    within_limit("okta nonce dance", okta_nonce_dance()).await;
}

struct FreshNonce(AtomicU64);

impl Respond for FreshNonce {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(401)
            .insert_header("dpop-nonce", format!("nonce-{n}").as_str())
            .insert_header("www-authenticate", "DPoP error=\"use_dpop_nonce\"")
    }
}

async fn okta_nonce_dance() {
    let api = WireApi::start(Kind::Okta).await;
    let token = serde_json::json!({
        "access_token": "wire-dpop-token-0001", "token_type": "DPoP", "expires_in": 3600,
        "scope": "okta.users.read okta.groups.read okta.apps.read",
    });
    api.serve_token(ResponseTemplate::new(200).set_body_json(token))
        .await;
    api.serve_every_get(FreshNonce(AtomicU64::new(0))).await;
    let p = api.provider().await;
    let e = first_users_error(p.as_ref()).await;
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    let got = api.server.received_requests().await.unwrap_or_default();
    let gets = got.iter().filter(|r| r.method.as_str() == "GET").count();
    assert!(gets <= 3, "{gets} GETs for one page");
    assert!(got
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .all(|r| r.headers.contains_key("dpop")));
}
