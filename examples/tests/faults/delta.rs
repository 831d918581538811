//! Entra delta rounds (`AzureDirectory::delta_sync` / `delta_snapshot`)
//! under the same faults as the listings: they page through the one core
//! paginator, so the same guarantees hold. Faults on `users/delta` and
//! `groups/delta` come from the simulated tenant; what it cannot serve
//! (pages forever, links to another listing, a slow answer with a huge
//! `Retry-After`) from wiremock. Delta queries are Entra's alone, so each
//! case runs once, as `delta::case::azure`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use azure_directory::testkit::{Fault, FaultKind, SimulatedTenant, TenantHandle};
use azure_directory::AzureDirectory;
use directory_core::{Error, ErrorKind, Snapshot};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::orgs::{quick_retry, ATTEMPT_TIMEOUT};
use crate::wire::{azure_at, fresh_server, WireApi};

/// `mod $case { azure }`: one test per case, under the case limit.
macro_rules! entra_only {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn azure() {
                $crate::orgs::within_limit(concat!("delta::", stringify!($case)), super::$case())
                    .await;
            }
        }
    )*};
}

entra_only!(
    server_errors_and_cuts_in_a_delta_round_are_retried,
    an_empty_delta_page_in_the_middle_is_followed,
    an_incremental_round_with_an_empty_page_is_complete,
    a_truncated_delta_page_is_an_invalid_response,
    a_malformed_delta_page_is_an_invalid_response,
    a_delta_next_link_that_cycles_is_refused,
    a_delta_next_link_to_another_host_is_refused,
    a_429_storm_in_a_delta_round_is_rate_limited,
    a_huge_retry_after_on_a_slow_delta_answer_is_capped,
    endless_empty_delta_pages_with_fresh_links_end,
    the_same_delta_page_forever_ends,
    a_delta_next_link_to_another_listing_is_refused,
    a_delta_link_to_another_listing_is_refused,
    a_delta_next_link_to_another_host_gets_no_request,
);

/// 450 users: the users round has three pages (the tenant serves 200 a page).
async fn tenant() -> TenantHandle {
    SimulatedTenant::builder()
        .seed(8)
        .users(450)
        .groups(5)
        .app_users(12)
        .rate_limit(None)
        .start()
        .await
        .expect("tenant starts")
}

fn entra(t: &TenantHandle) -> AzureDirectory {
    t.provider_builder()
        .page_size(7)
        .timeout(ATTEMPT_TIMEOUT)
        .retry_policy(quick_retry())
        .build()
        .expect("azure provider builds")
}

fn requests(t: &TenantHandle) -> u64 {
    let r = t.requests();
    r.total + r.throttled
}

/// A full round from scratch: the tenant's whole directory, or the error.
async fn full_round(t: &TenantHandle) -> Result<Snapshot, Error> {
    entra(t).delta_snapshot(None).await.map(|(snap, _)| snap)
}

#[track_caller]
fn assert_complete(t: &TenantHandle, got: Result<Snapshot, Error>) {
    let snap = got.unwrap_or_else(|e| panic!("expected a complete snapshot, got {e}"));
    let truth = t.ground_truth();
    assert_eq!(snap.users.len(), truth.users.len(), "users");
    assert!(snap.same_directory(&truth), "differs from the ground truth");
}

#[track_caller]
fn assert_error(got: Result<Snapshot, Error>, kind: ErrorKind) -> Error {
    match got {
        Ok(s) => panic!("expected a {kind:?} error, got {} users", s.users.len()),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{e}");
            e
        }
    }
}

/// A full round with `faults` armed is complete, and cost more requests
/// than a clean one (the faults fired and were survived).
async fn assert_survived(faults: Vec<Fault>) {
    let t = tenant().await;
    let before = requests(&t);
    assert_complete(&t, full_round(&t).await);
    let clean = requests(&t) - before;
    for f in faults {
        t.inject(f);
    }
    let before = requests(&t);
    assert_complete(&t, full_round(&t).await);
    let used = requests(&t) - before;
    assert!(
        used > clean,
        "{used} requests, {clean} clean: no fault fired"
    );
}

/// A full round with `fault` armed fails with `kind`.
async fn broken_round(fault: Fault, kind: ErrorKind) -> Error {
    let t = tenant().await;
    t.inject(fault);
    assert_error(full_round(&t).await, kind)
}

async fn server_errors_and_cuts_in_a_delta_round_are_retried() {
    assert_survived(vec![
        Fault::status(503).on_path("/users/delta").after(1),
        Fault::new(FaultKind::CutConnection).on_path("/groups/delta"),
    ])
    .await;
}

async fn an_empty_delta_page_in_the_middle_is_followed() {
    let empty = Fault::new(FaultKind::EmptyPage).on_path("/users/delta");
    assert_survived(vec![empty.after(1).times(2)]).await;
}

/// An incremental round after a change, with an empty page in it: the new
/// snapshot is the tenant's directory.
async fn an_incremental_round_with_an_empty_page_is_complete() {
    let t = tenant().await;
    let azure = entra(&t);
    let (snap, first) = azure.delta_snapshot(None).await.expect("first round");
    let renamed = t.data().users[3].id.clone();
    t.mutate(|m| m.update_user(&renamed, |u| u.display_name = Some("Renamed".into())));
    t.inject(Fault::new(FaultKind::EmptyPage).on_path("/users/delta"));
    let next = azure.delta_snapshot(Some((&snap, &first.state))).await;
    let (snap, outcome) = next.expect("incremental round");
    assert!(!outcome.full_sync, "an incremental round");
    assert_complete(&t, Ok(snap));
}

async fn a_truncated_delta_page_is_an_invalid_response() {
    let f = Fault::new(FaultKind::TruncatedJson).on_path("/groups/delta");
    let e = broken_round(f, ErrorKind::InvalidResponse).await;
    assert!(e.provider().is_some(), "names the provider: {e}");
}

async fn a_malformed_delta_page_is_an_invalid_response() {
    let f = Fault::new(FaultKind::MalformedJson).on_path("/users/delta");
    let e = broken_round(f, ErrorKind::InvalidResponse).await;
    assert!(e.to_string().contains("[0]"), "names the JSON path: {e}");
}

async fn a_delta_next_link_that_cycles_is_refused() {
    let f = Fault::new(FaultKind::CyclingNextLink).on_path("/users/delta");
    let e = broken_round(f.after(1), ErrorKind::InvalidResponse).await;
    assert!(e.to_string().contains("repeats"), "{e}");
}

async fn a_delta_next_link_to_another_host_is_refused() {
    let f = Fault::new(FaultKind::ForeignNextLink).on_path("/groups/delta");
    let e = broken_round(f, ErrorKind::InvalidResponse).await;
    assert!(
        e.to_string().contains("outside the configured origin"),
        "{e}"
    );
}

async fn a_429_storm_in_a_delta_round_is_rate_limited() {
    let storm = Fault::throttle(1).on_path("/users/delta").always();
    let e = broken_round(storm, ErrorKind::RateLimited).await;
    assert_eq!(e.status(), Some(429), "{e}");
}

/// A `users/delta` page, with a next link (`next`) or the delta link.
fn delta_page(base: &str, value: serde_json::Value, next: Option<String>) -> ResponseTemplate {
    let link = match next {
        Some(n) => serde_json::json!({ "@odata.nextLink": n }),
        None => serde_json::json!({
            "@odata.deltaLink": format!("{base}/v1.0/users/delta?$deltatoken=d1")
        }),
    };
    let mut body = serde_json::json!({ "value": value });
    if let (Some(b), Some(l)) = (body.as_object_mut(), link.as_object()) {
        b.extend(l.clone());
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// A wiremock Graph whose `groups/delta` round is one empty page, and the
/// Entra provider pointed at it (`timeout` per attempt).
async fn wire_graph(timeout: Duration) -> (WireApi, AzureDirectory) {
    let api = WireApi::start(crate::orgs::Kind::Azure).await;
    let base = api.server.uri();
    let groups_done = serde_json::json!({
        "value": [],
        "@odata.deltaLink": format!("{base}/v1.0/groups/delta?$deltatoken=g1"),
    });
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/delta"))
        .respond_with(ResponseTemplate::new(200).set_body_json(groups_done))
        .mount(&api.server)
        .await;
    api.serve_empty_lists().await;
    let azure = azure_at(&base, quick_retry(), timeout);
    (api, azure)
}

/// Issue 13: a slow first answer (so time has passed) with the largest
/// `Retry-After` a server can send panicked in the caller's task. The wait
/// is capped at the retry deadline, so it is not started: a typed error.
async fn a_huge_retry_after_on_a_slow_delta_answer_is_capped() {
    let (api, azure) = wire_graph(Duration::from_secs(3)).await;
    let huge = ResponseTemplate::new(429)
        .insert_header("retry-after", "18446744073709551615")
        .set_delay(Duration::from_millis(1100));
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .respond_with(huge)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api.server)
        .await;
    let done = delta_page(&api.server.uri(), serde_json::json!([]), None);
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .respond_with(done)
        .mount(&api.server)
        .await;
    let e = azure
        .delta_sync(None)
        .await
        .expect_err("the wait is past the deadline");
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.status(), Some(429), "{e}");
}

/// Serves `users/delta` pages forever, each with a fresh next link: empty,
/// or (`repeat`) the same user each time.
struct EndlessDelta {
    base: String,
    served: Arc<AtomicU64>,
    repeat: bool,
}

impl Respond for EndlessDelta {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::SeqCst) + 1;
        let value = if self.repeat {
            serde_json::json!([{"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
                "userPrincipalName": "ada@acme.test", "accountEnabled": true}])
        } else {
            serde_json::json!([])
        };
        let next = format!("{}/v1.0/users/delta?$skiptoken=p{n}", self.base);
        delta_page(&self.base, value, Some(next))
    }
}

async fn endless_delta_round_ends(repeat: bool) {
    let (api, azure) = wire_graph(ATTEMPT_TIMEOUT).await;
    let served = Arc::new(AtomicU64::new(0));
    let endless = EndlessDelta {
        base: api.server.uri(),
        served: served.clone(),
        repeat,
    };
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .respond_with(endless)
        .with_priority(1)
        .mount(&api.server)
        .await;
    let e = azure.delta_sync(None).await.expect_err("the round ends");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    let served = served.load(Ordering::SeqCst);
    assert!(served <= 110, "stopped after {served} pages");
}

async fn endless_empty_delta_pages_with_fresh_links_end() {
    endless_delta_round_ends(false).await;
}

async fn the_same_delta_page_forever_ends() {
    endless_delta_round_ends(true).await;
}

/// A users round whose first page links (next or delta link, `link`) into
/// the groups round: refused before anything is sent there.
async fn a_link_to_another_listing_is_refused(next: bool) {
    let (api, azure) = wire_graph(ATTEMPT_TIMEOUT).await;
    let base = api.server.uri();
    let (value, link) = (
        serde_json::json!([]),
        format!("{base}/v1.0/groups/delta?$skiptoken=x"),
    );
    let body = if next {
        delta_page(&base, value, Some(link))
    } else {
        let json = serde_json::json!({ "value": value, "@odata.deltaLink": link });
        ResponseTemplate::new(200).set_body_json(json)
    };
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .respond_with(body)
        .with_priority(1)
        .mount(&api.server)
        .await;
    let e = azure.delta_sync(None).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("another listing"), "{e}");
    let got = api.server.received_requests().await.unwrap_or_default();
    let followed = got.iter().any(|r| r.url.as_str().contains("skiptoken=x"));
    assert!(!followed, "the link to another listing was followed");
}

async fn a_delta_next_link_to_another_listing_is_refused() {
    a_link_to_another_listing_is_refused(true).await;
}

async fn a_delta_link_to_another_listing_is_refused() {
    a_link_to_another_listing_is_refused(false).await;
}

/// A users round whose next link points at another server: refused, and
/// that server gets no request (no token goes there).
async fn a_delta_next_link_to_another_host_gets_no_request() {
    let (api, azure) = wire_graph(ATTEMPT_TIMEOUT).await;
    let other = fresh_server().await;
    let link = format!("{}/v1.0/users/delta?$skiptoken=x", other.uri());
    let page = delta_page(&api.server.uri(), serde_json::json!([]), Some(link));
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .respond_with(page)
        .with_priority(1)
        .mount(&api.server)
        .await;
    let e = azure.delta_sync(None).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(
        e.to_string().contains("outside the configured origin"),
        "{e}"
    );
    let got = other.received_requests().await.unwrap_or_default();
    assert!(got.is_empty(), "{} requests to the other host", got.len());
}
