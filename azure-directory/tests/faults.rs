//! Paging, throttling and faults over loopback against the simulated tenant.

use std::time::Duration;

use azure_directory::testkit::{Fault, FaultKind, SimulatedTenant, TenantHandle};
use azure_directory::AzureDirectory;
use directory_core::http::RetryPolicy;
use directory_core::testing::RetryLog;
use directory_core::{DirectoryProvider, DirectoryProviderExt, ErrorKind, MembershipKind};
use futures::TryStreamExt;

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        deadline: Duration::from_secs(20),
    }
}

async fn setup(users: usize, page: u32) -> (TenantHandle, AzureDirectory) {
    let t = SimulatedTenant::builder()
        .seed(8)
        .users(users)
        .groups(8)
        .start()
        .await
        .unwrap();
    let azure = t
        .provider_builder()
        .page_size(page)
        .retry_policy(quick_retry())
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    (t, azure)
}

fn user_requests(t: &TenantHandle) -> Vec<String> {
    t.request_log()
        .into_iter()
        .filter(|r| r.starts_with("/v1.0/users?"))
        .collect()
}

#[tokio::test]
async fn users_come_in_pages_and_each_next_link_is_followed_verbatim() {
    let (t, azure) = setup(95, 40).await;
    let pages: Vec<Vec<_>> = azure.users().try_collect().await.unwrap();
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![40, 40, 15]
    );
    let log = user_requests(&t);
    assert_eq!(log.len(), 3, "{log:?}");
    let select = azure_directory::wire::USER_SELECT.join(",");
    assert!(
        log[0].starts_with(&format!("/v1.0/users?$select={select}")),
        "{}",
        log[0]
    );
    assert!(log[0].ends_with("&$top=40"), "{}", log[0]);
    // Pages 2 and 3 are exactly the server's next links: the same query plus its skip token.
    assert_eq!(log[1], format!("{}&$skiptoken=UkZOd2RBMDAwMDAwNDA", log[0]));
    assert_eq!(log[2], format!("{}&$skiptoken=UkZOd2RBMDAwMDAwODA", log[0]));
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let (t, azure) = setup(30, 999).await;
    t.inject(Fault::throttle(1).on_path("/v1.0/users"));
    let log = RetryLog::capture();
    let users = azure.all_users().await.unwrap();
    assert_eq!(users.len(), 30);
    // The one wait is the server's second (plus at most 10% of jitter).
    let waits = log.waits();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].server_hint, "Retry-After: 1 was not honoured");
    let ms = waits[0].wait.as_millis();
    assert!((1000..=1100).contains(&ms), "waited {ms} ms");
    assert_eq!(t.requests().throttled, 1);
    assert_eq!(user_requests(&t).len(), 2);
}

#[tokio::test]
async fn resource_unit_throttling_is_survived() {
    let t = SimulatedTenant::builder()
        .seed(9)
        .users(200)
        .groups(30)
        .rate_limit(Some(azure_directory::testkit::RateLimit {
            resource_units: 40,
            window: Duration::from_secs(1),
        }))
        .start()
        .await
        .unwrap();
    let retry = RetryPolicy {
        max_attempts: 10,
        ..quick_retry()
    };
    let azure = t.provider_builder().retry_policy(retry).build().unwrap();
    let snap = azure.snapshot().await.unwrap();
    assert!(snap.same_directory(&t.ground_truth()));
    assert!(
        t.requests().throttled > 0,
        "the budget should have been exceeded"
    );
}

#[tokio::test]
async fn server_errors_cut_connections_and_stalls_are_retried() {
    let (t, azure) = setup(50, 20).await;
    t.inject(Fault::status(503).on_path("/v1.0/users"));
    t.inject(
        Fault::new(FaultKind::CutConnection)
            .on_path("/v1.0/users")
            .after(1),
    );
    t.inject(Fault::new(FaultKind::Delay(Duration::from_secs(4))).on_path("/v1.0/groups"));
    t.inject(Fault::status(502).on_path("/members"));
    let snap = azure.snapshot().await.unwrap();
    assert!(snap.same_directory(&t.ground_truth()));
}

#[tokio::test]
async fn an_empty_page_in_the_middle_is_followed() {
    let (t, azure) = setup(60, 25).await;
    t.inject(
        Fault::new(FaultKind::EmptyPage)
            .on_path("/v1.0/users")
            .after(1),
    );
    let pages: Vec<Vec<_>> = azure.users().try_collect().await.unwrap();
    assert!(pages.iter().any(Vec::is_empty));
    assert_eq!(pages.concat().len(), 60);
}

#[tokio::test]
async fn a_cycling_next_link_is_an_error_not_a_loop() {
    let (t, azure) = setup(60, 25).await;
    t.inject(
        Fault::new(FaultKind::CyclingNextLink)
            .on_path("/v1.0/users")
            .after(1),
    );
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.message().contains("repeats"), "{e}");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let (t, azure) = setup(60, 25).await;
    t.inject(Fault::new(FaultKind::ForeignNextLink).on_path("/v1.0/users"));
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(
        e.message().contains("graph.evil.example") && e.message().contains("no request was sent"),
        "{e}"
    );
    assert_eq!(user_requests(&t).len(), 1);
}

#[tokio::test]
async fn truncated_and_malformed_json_fail_with_the_json_path() {
    let (t, azure) = setup(30, 999).await;
    t.inject(Fault::new(FaultKind::TruncatedJson).on_path("/v1.0/users"));
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    t.inject(Fault::new(FaultKind::MalformedJson).on_path("/v1.0/users"));
    let e = azure.all_users().await.unwrap_err();
    assert!(e.message().contains("$.value[0]"), "{e}");
    assert!(
        directory_core::Snapshot::collect(&azure, &Default::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_failing_member_page_fails_the_whole_snapshot() {
    let (t, azure) = setup(80, 999).await;
    t.inject(Fault::status(500).on_path("/members").after(3).always());
    let e = directory_core::testing::assert_failure_aborts(&azure).await;
    assert_eq!(e.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn a_token_revoked_mid_sync_is_refreshed_once() {
    let (t, azure) = setup(120, 30).await;
    t.inject(
        Fault::new(FaultKind::ExpireTokens)
            .on_path("/v1.0/users")
            .after(2),
    );
    let snap = azure.snapshot().await.unwrap();
    assert!(snap.same_directory(&t.ground_truth()));
    assert_eq!(t.tokens_issued(), 2);
    assert_eq!(azure.token_fetches(), 2);
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_before_expiry() {
    let t = SimulatedTenant::builder()
        .seed(2)
        .users(30)
        .token_lifetime(Duration::from_secs(6))
        .start()
        .await
        .unwrap();
    let azure = t.provider().unwrap();
    azure.all_users().await.unwrap();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    azure.all_users().await.unwrap();
    assert_eq!(
        t.tokens_issued(),
        2,
        "refreshed at half its life, before Graph said 401"
    );
    assert_eq!(t.requests().endpoint("users"), 2, "no 401 was needed");
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_is_a_transient_error() {
    let (t, azure) = setup(10, 999).await;
    t.inject(Fault::token_endpoint_down());
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert_eq!(t.requests().endpoint("users"), 0);
}

#[tokio::test]
async fn nested_groups_resolve_to_users_and_a_cycle_terminates() {
    let (t, azure) = setup(120, 999).await;
    let data = t.data();
    let g0 = data.groups[0].id.clone();
    // Groups 0 -> 1 -> 2 -> 0 form a cycle; group 0 also holds a device and a service principal.
    let members: Vec<_> = azure.group_members(&g0).try_concat().await.unwrap();
    let truth: Vec<_> = t
        .ground_truth()
        .memberships
        .into_iter()
        .filter(|m| m.group_id == g0)
        .collect();
    let mut got = members.clone();
    got.sort();
    assert_eq!(got, truth);
    assert!(members.iter().any(|m| m.kind == MembershipKind::Transitive));
    let users: std::collections::HashSet<&str> = data.users.iter().map(|u| u.id.as_str()).collect();
    assert!(
        members.iter().all(|m| users.contains(m.user_id.as_str())),
        "devices and service principals are skipped"
    );
    let nested_members = t
        .request_log()
        .iter()
        .filter(|r| r.contains("/members"))
        .count();
    assert_eq!(nested_members, 3, "each group of the cycle is read once");
}

#[tokio::test]
async fn clock_skew_on_token_expiry_is_survived_or_reported() {
    // Tokens die 27 s before their `expires_in` (30 s) says. The client would
    // refresh after 15 s; at 4.5 s (expiry is in whole seconds) Graph already
    // answers 401 and the client refreshes once.
    let t = SimulatedTenant::builder()
        .seed(3)
        .users(20)
        .token_lifetime(Duration::from_secs(30))
        .token_clock_skew(Duration::from_secs(27))
        .start()
        .await
        .unwrap();
    let azure = t.provider().unwrap();
    azure.all_users().await.unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let (tokens, users) = (t.tokens_issued(), t.requests().endpoint("users"));
    azure.all_users().await.unwrap();
    assert_eq!(t.tokens_issued(), tokens + 1, "{:?}", t.request_log());
    assert_eq!(
        t.requests().endpoint("users"),
        users + 2,
        "one 401, then the retry"
    );
    // Tokens already expired when issued: a clear error after one refresh, no loop.
    t.set_token_clock_skew(Duration::from_secs(3600));
    t.revoke_tokens();
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.code(), Some("InvalidAuthenticationToken"));
    assert_eq!(t.tokens_issued(), tokens + 2, "one refresh, then the error");
}

#[tokio::test]
async fn a_resource_unit_budget_keeps_the_client_under_the_limit() {
    let limit = azure_directory::testkit::RateLimit {
        resource_units: 40,
        window: Duration::from_secs(1),
    };
    let t = SimulatedTenant::builder()
        .seed(9)
        .users(200)
        .groups(30)
        .rate_limit(Some(limit))
        .start()
        .await
        .unwrap();
    let azure = t
        .provider_builder()
        .member_concurrency(8)
        .resource_unit_budget(36, Duration::from_secs(1))
        .build()
        .unwrap();
    let snap = azure.snapshot().await.unwrap();
    assert!(snap.same_directory(&t.ground_truth()));
    assert_eq!(
        t.requests().throttled,
        0,
        "paced below the tenant's budget: no 429"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_with_credentials() {
    let (t, azure) = setup(10, 999).await;
    t.inject(
        Fault::new(FaultKind::Redirect(
            "https://collector.evil.example/steal".into(),
        ))
        .on_path("/v1.0/users"),
    );
    let e = azure.all_users().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(
        e.message().contains("collector.evil.example") && e.message().contains("not followed"),
        "{e}"
    );
    t.inject(
        Fault::new(FaultKind::Redirect(
            "https://login.evil.example/token".into(),
        ))
        .on(azure_directory::testkit::FaultTarget::TokenEndpoint),
    );
    let fresh = t
        .provider_builder()
        .retry_policy(quick_retry())
        .build()
        .unwrap();
    let e = fresh.all_users().await.unwrap_err();
    assert!(e.message().contains("login.evil.example"), "{e}");
}

#[tokio::test]
async fn a_snapshot_reads_each_group_once_even_when_the_app_is_assigned_to_it() {
    let (t, azure) = setup(120, 999).await;
    let group = t.data().groups[4].id.clone();
    t.mutate(|m| m.assign(&group, "Group", None));
    let truth = t.ground_truth();
    assert!(
        truth
            .app_assignments
            .iter()
            .any(|a| matches!(a.via, directory_core::AssignedVia::Group { .. })),
        "the tenant assigns the app to a group"
    );
    t.reset_requests();
    let snapshot = azure.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&truth));
    let members: Vec<String> = t
        .request_log()
        .into_iter()
        .filter(|r| r.contains("/members"))
        .collect();
    let distinct: std::collections::HashSet<&String> = members.iter().collect();
    assert_eq!(
        distinct.len(),
        members.len(),
        "a group's members were read twice: {members:?}"
    );
    assert_eq!(members.len(), t.data().groups.len());
}
