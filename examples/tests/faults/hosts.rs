//! Credentials go only to the configured hosts, and a misbehaving server
//! cannot make the client send without bound.
//!
//! Each API is faked by a wiremock server (the real provider talks to it);
//! a second wiremock server is "another host" and must see no request at
//! all: not after a redirect of the API or of the token endpoint, not after
//! a next-page link that points at it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_directory::AzureDirectory;
use directory_core::{DirectoryProvider, ErrorKind};
use okta_directory::OktaDirectory;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::both_orgs;
use crate::orgs::{quick_retry, within_limit, Kind, Sim};
use crate::wire::{drain_all, fresh_server, okta_jwk, WireApi, TENANT};

both_orgs!(
    a_redirect_of_the_api_is_not_followed,
    a_redirect_of_the_token_endpoint_is_not_followed,
    a_next_link_to_another_host_sends_nothing_there,
    http_endpoints_are_refused_outside_test_mode,
    a_server_failing_every_request_gets_a_bounded_number,
    a_server_refusing_every_token_gets_one_refresh_per_request,
    an_oversized_page_is_refused,
    #[ignore = "directory-core bug: paginate follows empty pages with fresh cursors forever \
                (80,000 requests in 10 s); reported to the directory-core owner"]
    endless_empty_pages_with_fresh_cursors_end,
);

/// "Another host": answers everything, records what it gets.
async fn other_host() -> MockServer {
    let s = fresh_server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&s)
        .await;
    s
}

async fn assert_untouched(other: &MockServer) {
    let got = other.received_requests().await.unwrap_or_default();
    let seen: Vec<String> = got
        .iter()
        .map(|r| {
            format!(
                "{} {} auth={}",
                r.method,
                r.url,
                r.headers.contains_key("authorization")
            )
        })
        .collect();
    assert!(
        got.is_empty(),
        "another host got {} requests: {seen:?}",
        got.len()
    );
}

async fn a_redirect_of_the_api_is_not_followed(kind: Kind) {
    let (api, other) = (WireApi::start(kind).await, other_host().await);
    let to = format!("{}{}", other.uri(), api.users_path());
    api.serve_every_get(ResponseTemplate::new(302).insert_header("location", to.as_str()))
        .await;
    let p = api.provider().await;
    for r in drain_all(p.as_ref()).await {
        let e = r.expect_err("a redirect is an error");
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
        assert!(e.to_string().contains("redirect"), "{e}");
    }
    assert_untouched(&other).await;
}

async fn a_redirect_of_the_token_endpoint_is_not_followed(kind: Kind) {
    let (api, other) = (WireApi::start(kind).await, other_host().await);
    api.server.reset().await;
    // A 307 would make a follower re-post the body: the client's secret or
    // signed assertion.
    let to = format!("{}/oauth2/token", other.uri());
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", to.as_str()))
        .mount(&api.server)
        .await;
    let p = api.provider().await;
    let e = crate::orgs::sync(p.as_ref()).await.expect_err("no token");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_untouched(&other).await;
}

async fn a_next_link_to_another_host_sends_nothing_there(kind: Kind) {
    let (api, other) = (WireApi::start(kind).await, other_host().await);
    let next = format!("{}{}?after=2&$skiptoken=2", other.uri(), api.users_path());
    let page = match kind {
        Kind::Okta => ResponseTemplate::new(200)
            .set_body_string("[]")
            .insert_header("link", format!("<{next}>; rel=\"next\"").as_str()),
        Kind::Azure => ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"value": [], "@odata.nextLink": next})),
    };
    Mock::given(method("GET"))
        .and(path(api.users_path()))
        .respond_with(page)
        .mount(&api.server)
        .await;
    let p = api.provider().await;
    let e = crate::orgs::sync(p.as_ref()).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(
        e.to_string().contains(&other.uri()),
        "names the refused origin: {e}"
    );
    assert_untouched(&other).await;
}

async fn http_endpoints_are_refused_outside_test_mode(kind: Kind) {
    let refused = |r: directory_core::Result<()>, field: &str| {
        let e = r.expect_err("http:// is refused");
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
        assert!(e.to_string().contains(field), "names {field}: {e}");
        assert!(e.to_string().contains("https"), "says what is allowed: {e}");
    };
    match kind {
        Kind::Okta => {
            let b = OktaDirectory::builder()
                .domain("http://acme.okta.com")
                .client_id("0oa1")
                .private_jwk(okta_jwk().await);
            refused(b.build().map(|_| ()), "domain");
        }
        Kind::Azure => {
            let b = || {
                AzureDirectory::builder()
                    .tenant_id(TENANT)
                    .client_id("0f3c5a7e-1111-4abc-9def-0123456789ab")
                    .client_secret("wire-secret-0001")
            };
            let login = b().authority_host("http://login.example.test");
            refused(login.build().map(|_| ()), "authority_host");
            let graph = b().graph_endpoint("http://graph.example.test");
            refused(graph.build().map(|_| ()), "graph_endpoint");
        }
    }
    // The simulated org itself (http on 127.0.0.1) is refused once test mode is off.
    let sim = Sim::start_sized(kind, 3, 1).await;
    let r = match &sim {
        Sim::Okta(org) => org
            .provider_builder()
            .allow_insecure_http(false)
            .build()
            .map(|_| ()),
        Sim::Azure(t) => t
            .provider_builder()
            .allow_insecure_http(false)
            .build()
            .map(|_| ()),
    };
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::InvalidConfig));
}

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

async fn first_users_error(p: &dyn DirectoryProvider) -> directory_core::Error {
    use futures::StreamExt;
    let mut pages = p.users();
    while let Some(page) = pages.next().await {
        if let Err(e) = page {
            return e;
        }
    }
    panic!("the listing ended without an error");
}

/// Serves empty pages forever, each linking to a new cursor.
struct EndlessEmpty {
    kind: Kind,
    base: String,
    served: Arc<AtomicU64>,
}

impl Respond for EndlessEmpty {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::SeqCst) + 1;
        match self.kind {
            Kind::Okta => ResponseTemplate::new(200)
                .set_body_string("[]")
                .insert_header(
                    "link",
                    format!("<{}/api/v1/users?after=p{n}>; rel=\"next\"", self.base).as_str(),
                ),
            Kind::Azure => ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "value": [],
                "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=p{n}", self.base),
            })),
        }
    }
}

/// A server that never ends a listing (an empty page with a new cursor,
/// forever) must not keep a sync running and sending forever.
async fn endless_empty_pages_with_fresh_cursors_end(kind: Kind) {
    let api = WireApi::start(kind).await;
    let served = Arc::new(AtomicU64::new(0));
    let endless = EndlessEmpty {
        kind,
        base: api.server.uri(),
        served: served.clone(),
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
    let e =
        got.unwrap_or_else(|_| panic!("still listing after {limit:?} and {served} empty pages"));
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
}

/// Okta: a 200 saying the bucket is spent until a reset years away must not
/// park the sync until then.
#[tokio::test]
#[ignore = "okta-directory bug: ratelimit.rs Budget waits for any X-Rate-Limit-Reset, \
            however far away (61 s at a time, forever); reported to the Okta engineer"]
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

/// Okta, on the simulated org with real DPoP tokens: a 302 from the API to
/// another host is an error, and that host sees nothing.
#[tokio::test]
async fn okta_a_redirect_on_the_simulated_org_is_not_followed() {
    within_limit("okta redirect", okta_redirect_on_the_simulated_org()).await;
}

async fn okta_redirect_on_the_simulated_org() {
    use okta_directory::testkit::{Fault, FaultKind};
    let other = other_host().await;
    let sim = Sim::start(Kind::Okta).await;
    let Sim::Okta(org) = &sim else { unreachable!() };
    let to = format!("{}/api/v1/users?after=x", other.uri());
    org.inject(
        Fault::new(FaultKind::Redirect(to))
            .on_path("/api/v1/users")
            .after(1),
    );
    let e = crate::orgs::sync(sim.provider().as_ref())
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(
        e.to_string().contains(&other.uri()),
        "names where it pointed: {e}"
    );
    assert_untouched(&other).await;
}

/// Entra has two configured hosts: the login authority gets the client
/// secret and never a Graph request; Graph gets the bearer token and never
/// the secret, even when a Graph next link points at the login host.
#[tokio::test]
async fn azure_each_configured_host_gets_only_its_own_credential() {
    within_limit("azure hosts", azure_credentials_per_host()).await;
}

async fn azure_credentials_per_host() {
    let (login, graph) = (WireApi::start(Kind::Azure).await, fresh_server().await);
    let next = format!("{}/v1.0/users?$skiptoken=2", login.server.uri());
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"value": [], "@odata.nextLink": next})),
        )
        .mount(&graph)
        .await;
    let p = AzureDirectory::builder()
        .tenant_id(TENANT)
        .client_id("0f3c5a7e-1111-4abc-9def-0123456789ab")
        .client_secret(crate::wire::AZURE_SECRET)
        .service_principal_id(crate::wire::SP)
        .authority_host(login.server.uri())
        .graph_endpoint(graph.uri())
        .allow_insecure_http(true)
        .retry(quick_retry())
        .build()
        .expect("provider builds");
    let e = first_users_error(&p).await;
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    let to_login = login.server.received_requests().await.unwrap_or_default();
    assert!(
        to_login.iter().all(|r| r.method.as_str() == "POST"),
        "no Graph call to login"
    );
    assert!(to_login
        .iter()
        .all(|r| !r.headers.contains_key("authorization")));
    let to_graph = graph.received_requests().await.unwrap_or_default();
    assert!(!to_graph.is_empty());
    for r in to_graph {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(crate::wire::AZURE_SECRET) && !r.url.as_str().contains("secret"));
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
        assert_eq!(
            auth,
            Some(format!("Bearer {}", crate::wire::AZURE_TOKEN).as_str())
        );
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
