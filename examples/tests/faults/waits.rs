//! Issue 13: whatever number a server gives as a wait (`Retry-After`,
//! `X-Rate-Limit-Reset`), even the largest one, on a slow first answer (so
//! time has already passed when the wait is added to it), a sync and
//! `check()` end in a typed error or a complete result: never a panic. The
//! wait is capped at the retry deadline, so a wait past it is not started.

use std::sync::Arc;
use std::time::Duration;

use directory_core::{DirectoryProvider, ErrorKind};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::both_orgs;
use crate::orgs::{quick_retry, Kind};
use crate::wire::{provider_timed, WireApi};

both_orgs!(
    a_huge_wait_on_a_slow_first_429_is_capped,
    a_huge_retry_after_on_a_slow_first_503_is_capped,
    check_survives_a_huge_wait_on_a_slow_first_answer,
);

const HUGE: &str = "18446744073709551615";

/// The first API answer: `status` after 1.1 s, saying to wait "forever"
/// in every header the provider reads (Okta's 429 waits for
/// `X-Rate-Limit-Reset`, everything else for `Retry-After`).
fn slow_huge(status: u16) -> ResponseTemplate {
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    ResponseTemplate::new(status)
        .insert_header("retry-after", HUGE)
        .insert_header("date", now.as_str())
        .insert_header("x-rate-limit-limit", "600")
        .insert_header("x-rate-limit-remaining", "0")
        .insert_header("x-rate-limit-reset", HUGE)
        .set_body_json(serde_json::json!({}))
        .set_delay(Duration::from_millis(1100))
}

/// A server whose first API answer is [`slow_huge`], then empty listings;
/// the provider's attempt timeout is past the delay.
async fn slow_first_answer(kind: Kind, status: u16) -> (WireApi, Arc<dyn DirectoryProvider>) {
    let api = WireApi::start(kind).await;
    let api_paths = match kind {
        Kind::Okta => "^/api/",
        Kind::Azure => "^/v1.0/",
    };
    Mock::given(method("GET"))
        .and(path_regex(api_paths))
        .respond_with(slow_huge(status))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api.server)
        .await;
    api.serve_empty_lists().await;
    let timeout = Duration::from_secs(3);
    let p = provider_timed(kind, &api.server.uri(), quick_retry(), timeout).await;
    (api, p)
}

/// A sync with `status` first: a complete (empty) snapshot, or an error of
/// `kind` that keeps the status. A panic caught on a stream's task would
/// be a `Transient` error without the status.
async fn slow_first_sync(kind: Kind, status: u16, want: ErrorKind) {
    let (_api, p) = slow_first_answer(kind, status).await;
    match crate::orgs::sync(p.as_ref()).await {
        Ok(_) => {}
        Err(e) => {
            assert_eq!(e.kind(), want, "{e}");
            assert_eq!(e.status(), Some(status), "{e}");
            assert!(!e.to_string().contains("panicked"), "{e}");
        }
    }
}

async fn a_huge_wait_on_a_slow_first_429_is_capped(kind: Kind) {
    slow_first_sync(kind, 429, ErrorKind::RateLimited).await;
}

async fn a_huge_retry_after_on_a_slow_first_503_is_capped(kind: Kind) {
    slow_first_sync(kind, 503, ErrorKind::Transient).await;
}

/// `check()` runs its probes in the caller's task: a panic there reached
/// the caller. Now the first probe reports the server's answer.
async fn check_survives_a_huge_wait_on_a_slow_first_answer(kind: Kind) {
    let (_api, p) = slow_first_answer(kind, 503).await;
    let report = p.check().await;
    let told = report
        .problems()
        .any(|(_, e)| e.status() == Some(503) && e.kind() == ErrorKind::Transient);
    let problems: Vec<String> = report
        .problems()
        .map(|(n, e)| format!("{n}: {e}"))
        .collect();
    assert!(told, "the 503 is reported: {problems:?}");
}
