//! Graph wire format from the reference's example payloads, over a wiremock
//! server: next links followed verbatim, nested members, app assignments
//! expanded, one token refresh on a 401.

use azure_directory::{AzureDirectory, DEFAULT_ACCESS_ROLE};
use directory_core::{
    AppAssignment, DirectoryProvider, DirectoryProviderExt, Membership, MembershipKind,
};
use futures::TryStreamExt;
use wiremock::matchers::{
    body_string_contains, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "0f3c5a7e-1111-4abc-9def-0123456789ab";
const SP: &str = "9d4e2c10-3b7f-4a61-8e09-f2c1d5a7b834";
const ROOT: &str = "6b1e0f4a-92c3-4d8e-a0f1-7c55d3e8b902";
const NESTED: &str = "0c9a7e21-54b8-4f3a-b6d0-91e2aa4c5f18";
const RACHEL: &str = "3f2c9b1e-7a41-4c0d-9e55-0b8f6d2a1c77";
const JON: &str = "a8d05c33-1f6e-4b7a-8c2d-5e9f40b3d611";

fn fixture(name: &str, base: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text.replace("{{BASE}}", base)).unwrap()
}

async fn server() -> (MockServer, AzureDirectory) {
    let s = MockServer::start().await;
    let token = |t: &str| {
        ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "access_token": t}),
        )
    };
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_secret=wire-secret"))
        .respond_with(token("wm-token-1"))
        .up_to_n_times(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(token("wm-token-2"))
        .mount(&s)
        .await;
    let azure = AzureDirectory::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_secret("wire-secret")
        .service_principal_id(SP)
        .authority_host(s.uri())
        .graph_endpoint(s.uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    (s, azure)
}

async fn get(s: &MockServer, p: &str, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(p.to_string()))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(s)
        .await;
}

#[tokio::test]
async fn reference_users_pages_decode_and_the_next_link_is_followed_verbatim() {
    let (s, azure) = server().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param_is_missing("$skiptoken"))
        .and(query_param("$top", "999"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("users_page1.json", &s.uri())),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param(
            "$skiptoken",
            "RFNwdAIAAQAAACU6cmFjaGVsLmtpbUBmYWJyaWthbS5jb20pVXNlcl8zZjJj",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("users_page2.json", &s.uri())),
        )
        .mount(&s)
        .await;
    let pages: Vec<Vec<_>> = azure.users().try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    let jon = &pages[1][0];
    assert_eq!(jon.user_type.as_deref(), Some("Guest"));
    assert_eq!(jon.primary_email(), Some("jon.ortega@contoso.com"));
    assert_eq!(pages[0][0].employee_number.as_deref(), Some("004871"));

    let reqs = s.received_requests().await.unwrap();
    let users: Vec<String> = reqs
        .iter()
        .filter(|r| r.url.path() == "/v1.0/users")
        .map(|r| format!("{}?{}", r.url.path(), r.url.query().unwrap_or_default()))
        .collect();
    let next = fixture("users_page1.json", &s.uri())["@odata.nextLink"]
        .as_str()
        .unwrap()
        .replace(&s.uri(), "");
    assert_eq!(
        users[1], next,
        "the second request is the next link, byte for byte"
    );
    assert!(
        users[0].contains("$select=id,userPrincipalName,mail,") && users[0].ends_with("&$top=999"),
        "{}",
        users[0]
    );
    let auth: Vec<_> = reqs
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .collect();
    assert!(auth
        .iter()
        .all(|h| h.to_str().unwrap() == "Bearer wm-token-1"));
}

#[tokio::test]
async fn nested_members_resolve_skip_devices_and_the_cycle_ends() {
    let (s, azure) = server().await;
    get(
        &s,
        &format!("/v1.0/groups/{ROOT}/members"),
        fixture("members.json", ""),
    )
    .await;
    get(
        &s,
        &format!("/v1.0/groups/{NESTED}/members"),
        fixture("nested_members.json", ""),
    )
    .await;
    let mut got: Vec<Membership> = azure.group_members(ROOT).try_concat().await.unwrap();
    got.sort();
    let want = vec![
        Membership {
            group_id: ROOT.into(),
            user_id: RACHEL.into(),
            kind: MembershipKind::Direct,
        },
        Membership {
            group_id: ROOT.into(),
            user_id: JON.into(),
            kind: MembershipKind::Transitive,
        },
    ];
    let mut want = want;
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        s.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path().ends_with("/members"))
            .count(),
        2
    );
}

#[tokio::test]
async fn app_assignments_expand_groups_to_direct_members_and_skip_service_principals() {
    let (s, azure) = server().await;
    get(
        &s,
        &format!("/v1.0/servicePrincipals/{SP}/appRoleAssignedTo"),
        fixture("app_role_assigned_to.json", ""),
    )
    .await;
    get(
        &s,
        &format!("/v1.0/groups/{ROOT}/members"),
        fixture("members.json", ""),
    )
    .await;
    let mut got: Vec<AppAssignment> = azure.app_assignments().try_concat().await.unwrap();
    got.sort();
    let mut want = vec![
        AppAssignment::direct(RACHEL),
        AppAssignment {
            role: Some("5c1f6a2e-0d84-4b3e-9f77-2a6c8e1d4b90".into()),
            ..AppAssignment::via_group(RACHEL, ROOT)
        },
    ];
    want.sort();
    assert_eq!(
        got, want,
        "default access ({DEFAULT_ACCESS_ROLE}) has no role; nested groups are not expanded"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_then_fails_with_a_hint() {
    let (s, azure) = server().await;
    Mock::given(method("GET")).and(path("/v1.0/users")).and(header("authorization", "Bearer wm-token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}})))
        .mount(&s).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(header("authorization", "Bearer wm-token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("users_page2.json", "")))
        .mount(&s)
        .await;
    assert_eq!(azure.all_users().await.unwrap().len(), 1);
    assert_eq!(azure.token_fetches(), 2);

    let (s, azure) = server().await;
    Mock::given(method("GET")).and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(401).insert_header("request-id", "req-42").set_body_json(serde_json::json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure. Invalid audience."}})))
        .mount(&s).await;
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidAuthenticationToken"));
    assert_eq!(e.request_id(), Some("req-42"));
    assert!(e.message().contains("same cloud"), "{e}");
    assert_eq!(azure.token_fetches(), 2, "exactly one refresh");
}
