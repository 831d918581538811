//! Credentials go only to the configured hosts, and `http://` is refused
//! outside test mode.
//!
//! Each API is faked by a wiremock server (the real provider talks to it);
//! a second wiremock server is "another host" and must see no request at
//! all: not after a redirect of the API or of the token endpoint, not after
//! a next-page link that points at it.

use azure_directory::AzureDirectory;
use directory_core::ErrorKind;
use okta_directory::OktaDirectory;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::both_orgs;
use crate::orgs::{
    azure_tenant, okta_org, provider, quick_retry, spec, start, start_spec, within_limit, Kind,
};
use crate::wire::{drain_all, first_users_error, fresh_server, okta_jwk, WireApi, TENANT};

both_orgs!(
    a_redirect_of_the_api_is_not_followed,
    a_redirect_of_the_token_endpoint_is_not_followed,
    a_next_link_to_another_host_sends_nothing_there,
    http_endpoints_are_refused_outside_test_mode,
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
    api.serve_empty_lists().await;
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
    let sim = start_spec(kind, &spec().users(3).groups(1)).await;
    let r = match kind {
        Kind::Okta => okta_org(&sim)
            .provider_builder()
            .allow_insecure_http(false)
            .build()
            .map(|_| ()),
        Kind::Azure => azure_tenant(&sim)
            .provider_builder()
            .allow_insecure_http(false)
            .build()
            .map(|_| ()),
    };
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::InvalidConfig));
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
    let sim = start(Kind::Okta).await;
    let org = okta_org(&sim);
    let to = format!("{}/api/v1/users?after=x", other.uri());
    org.inject(
        Fault::new(FaultKind::Redirect(to))
            .on_path("/api/v1/users")
            .after(1),
    );
    let e = crate::orgs::sync(provider(&sim).as_ref())
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
        .retry_policy(quick_retry())
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

both_orgs!(a_next_link_to_another_listing_is_refused,);

/// A member listing whose next link leads to another group's members on the
/// same host: following it would file those people under the wrong group
/// (and so the wrong location).
async fn a_next_link_to_another_listing_is_refused(kind: Kind) {
    let api = WireApi::start(kind).await;
    let base = api.server.uri();
    let (asked, other, next, page) = match kind {
        Kind::Okta => (
            "/api/v1/groups/00gasked/users".to_string(),
            "/api/v1/groups/00gother/users",
            format!("<{base}/api/v1/groups/00gother/users?after=x>; rel=\"next\""),
            ResponseTemplate::new(200).set_body_string("[]"),
        ),
        Kind::Azure => (
            "/v1.0/groups/00gasked/members".to_string(),
            "/v1.0/groups/00gother/members",
            String::new(),
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "value": [],
                "@odata.nextLink": format!("{base}/v1.0/groups/00gother/members?$skiptoken=x"),
            })),
        ),
    };
    let page = if next.is_empty() {
        page
    } else {
        page.insert_header("link", next.as_str())
    };
    Mock::given(method("GET"))
        .and(path(asked))
        .respond_with(page)
        .mount(&api.server)
        .await;
    let stranger = match kind {
        Kind::Okta => serde_json::json!([{"id": "00ustranger"}]),
        Kind::Azure => serde_json::json!({"value": [
            {"id": "3f2c9b1e-7a41-4c0d-9e55-0b8f6d2a1c77", "@odata.type": "#microsoft.graph.user"}
        ]}),
    };
    Mock::given(method("GET"))
        .and(path(other))
        .respond_with(ResponseTemplate::new(200).set_body_json(stranger))
        .mount(&api.server)
        .await;
    let p = api.provider().await;
    use futures::TryStreamExt;
    let got = p.group_members("00gasked").try_concat().await;
    match got {
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}"),
        Ok(members) => panic!("{kind:?}: followed to another listing: {members:?}"),
    }
}
