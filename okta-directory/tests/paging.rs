//! Paging over loopback: wiremock fixtures written from the Okta reference
//! (a 3-page user list with each page's `after` cursor asserted, links to
//! other origins refused) and the simulated org's page faults.

use directory_core::http::RetryPolicy;
use directory_core::{DirectoryProvider, DirectoryProviderExt, ErrorKind};
use futures::TryStreamExt;
use okta_directory::testkit::{Fault, FaultKind, OktaOrg};
use okta_directory::OktaDirectory;
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn user(id: &str) -> serde_json::Value {
    json!({
        "id": id, "status": "ACTIVE", "created": "2024-03-11T09:14:02.000Z",
        "lastUpdated": "2026-05-30T16:20:11.000Z",
        "profile": {"login": format!("{id}@example.org"), "email": format!("{id}@example.org"),
                    "firstName": "Maria", "lastName": "Lopez", "secondEmail": null},
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": "https://example.okta.com/api/v1/users/x"}}
    })
}

async fn token_endpoint(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3600, "access_token": "tok-123",
            "scope": "okta.users.read okta.groups.read"
        })))
        .mount(server)
        .await;
}

fn page(ids: &[&str], next: Option<String>) -> ResponseTemplate {
    let body: Vec<_> = ids.iter().map(|i| user(i)).collect();
    let mut r = ResponseTemplate::new(200)
        .set_body_json(body)
        .append_header("x-okta-request-id", "req-page")
        .append_header("link", "<https://ignored.invalid/self>; rel=\"self\"");
    if let Some(n) = next {
        r = r.append_header("link", format!("<{n}>; rel=\"next\"").as_str());
    }
    r
}

async fn provider(server: &MockServer) -> OktaDirectory {
    let org = OktaOrg::builder()
        .users(1)
        .groups(0)
        .app_users(0)
        .start()
        .await
        .unwrap();
    OktaDirectory::builder()
        .domain(server.uri())
        .client_id(org.client_id())
        .private_jwk(org.private_jwk())
        .allow_insecure_http(true)
        .include_deprovisioned(false)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn three_page_user_list_follows_each_after_cursor() {
    let server = MockServer::start().await;
    token_endpoint(&server).await;
    let base = server.uri();
    let users = || Mock::given(method("GET")).and(path("/api/v1/users"));
    users()
        .and(query_param_is_missing("after"))
        .respond_with(page(
            &["00u1", "00u2"],
            Some(format!("{base}/api/v1/users?limit=200&after=00u2")),
        ))
        .mount(&server)
        .await;
    users()
        .and(query_param("after", "00u2"))
        .respond_with(page(
            &["00u3", "00u4"],
            Some(format!("{base}/api/v1/users?limit=200&after=00u4")),
        ))
        .mount(&server)
        .await;
    users()
        .and(query_param("after", "00u4"))
        .respond_with(page(&["00u5"], None))
        .mount(&server)
        .await;
    let okta = provider(&server).await;
    let pages: Vec<Vec<_>> = okta.users().try_collect().await.unwrap();
    let ids: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.iter().map(|u| u.id.as_str()).collect())
        .collect();
    assert_eq!(
        ids,
        vec![vec!["00u1", "00u2"], vec!["00u3", "00u4"], vec!["00u5"]]
    );

    let requests = server.received_requests().await.unwrap();
    let afters: Vec<Option<String>> = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v1/users")
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "after")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(afters, vec![None, Some("00u2".into()), Some("00u4".into())]);
    let first = &requests
        .iter()
        .find(|r| r.url.path() == "/api/v1/users")
        .unwrap();
    assert_eq!(
        first.url.query(),
        Some("limit=200"),
        "largest page size asked"
    );
    assert_eq!(
        first
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        "Bearer tok-123"
    );
}

#[tokio::test]
async fn next_link_to_another_origin_is_refused_and_not_requested() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    token_endpoint(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(page(
            &["00u1"],
            Some(format!("{}/api/v1/users?after=00u1", other.uri())),
        ))
        .mount(&server)
        .await;
    let okta = provider(&server).await;
    let err = okta.all_users().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string().contains("outside the configured origin"),
        "{err}"
    );
    assert!(
        other.received_requests().await.unwrap().is_empty(),
        "no request to the other host"
    );
}

#[tokio::test]
async fn a_next_link_repeating_the_current_page_is_an_error_not_a_loop() {
    let org = OktaOrg::builder().users(450).start().await.unwrap();
    org.inject(
        Fault::new(FaultKind::CyclicNext)
            .on_path("/api/v1/users")
            .after(1),
    );
    let okta = org.provider_builder().build().unwrap();
    let err = okta.all_users().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("repeats"), "{err}");
    assert_eq!(org.requests("users"), 2);
}

#[tokio::test]
async fn foreign_next_link_from_the_simulated_org_is_refused() {
    let org = OktaOrg::builder().users(450).start().await.unwrap();
    org.inject(Fault::new(FaultKind::ForeignNext).on_path("/api/v1/users"));
    let okta = org.provider_builder().build().unwrap();
    let err = okta.snapshot().await.unwrap_err();
    assert!(err.message().contains("127.0.0.2"), "{err}");
}

#[tokio::test]
async fn an_empty_page_in_the_middle_is_followed() {
    let org = OktaOrg::builder().users(450).start().await.unwrap();
    org.inject(
        Fault::new(FaultKind::EmptyPage)
            .on_path("/api/v1/users")
            .after(1),
    );
    let okta = org.provider_builder().build().unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&org.ground_truth()));
}

#[tokio::test]
async fn group_members_page_through_the_after_cursor() {
    let org = OktaOrg::builder()
        .users(300)
        .groups(1)
        .memberships_per_user(1)
        .start()
        .await
        .unwrap();
    let okta = org
        .provider_builder()
        .page_limits(okta_directory::PageLimits {
            group_members: 100,
            ..Default::default()
        })
        .build()
        .unwrap();
    let gid = org.ground_truth().groups[0].id.clone();
    let pages: Vec<Vec<_>> = okta.group_members(&gid).try_collect().await.unwrap();
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 100, 100]
    );
    assert_eq!(org.requests("groups/id"), 3);
}

/// `page_size(n)` is every listing's page size, capped at each endpoint's
/// own maximum (users 200): 300 users come in pages of 150 and 150, and with
/// 500 (above the users maximum) in pages of 200, 100.
#[tokio::test]
async fn page_size_sets_every_listing_capped_at_each_endpoints_maximum() {
    let org = OktaOrg::builder()
        .users(300)
        .groups(1)
        .memberships_per_user(1)
        .start()
        .await
        .unwrap();
    let gid = org.ground_truth().groups[0].id.clone();
    let okta = org.provider_builder().page_size(150).build().unwrap();
    let members: Vec<Vec<_>> = okta.group_members(&gid).try_collect().await.unwrap();
    assert_eq!(
        members.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![150, 150]
    );
    let users: Vec<Vec<_>> = okta.users().try_collect().await.unwrap();
    assert_eq!(users[0].len(), 150);
    let okta = org.provider_builder().page_size(500).build().unwrap();
    let users: Vec<Vec<_>> = okta.users().try_collect().await.unwrap();
    assert_eq!(users[0].len(), 200, "capped at the users endpoint's 200");
    let members: Vec<Vec<_>> = okta.group_members(&gid).try_collect().await.unwrap();
    assert_eq!(members.len(), 1, "300 members fit one page of 500");
}

#[tokio::test]
async fn a_retry_after_429_names_the_refused_request() {
    let server = MockServer::start().await;
    token_endpoint(&server).await;
    let now = std::time::SystemTime::now();
    let reset = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."}))
                .append_header("x-okta-request-id", "req-429")
                .append_header("date", httpdate::fmt_http_date(now).as_str())
                .append_header("x-rate-limit-limit", "600")
                .append_header("x-rate-limit-remaining", "0")
                .append_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(page(&["00u1"], None))
        .mount(&server)
        .await;
    let okta = OktaDirectory::builder()
        .domain(server.uri())
        .client_id("0oa1")
        .private_jwk(OktaOrg::builder().start().await.unwrap().private_jwk())
        .allow_insecure_http(true)
        .include_deprovisioned(false)
        .build()
        .unwrap();
    assert_eq!(okta.all_users().await.unwrap().len(), 1);
    let requests = server.received_requests().await.unwrap();
    let users: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v1/users")
        .collect();
    assert_eq!(users.len(), 2);
    assert!(users[0].headers.get("x-okta-retry-for").is_none());
    assert_eq!(users[1].headers["x-okta-retry-for"], "req-429");
    assert_eq!(users[1].headers["x-okta-retry-count"], "1");
}
