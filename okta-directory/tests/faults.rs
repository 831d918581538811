//! Rate limits and faults over loopback: a 429 waited out by
//! `X-Rate-Limit-Reset`, concurrency 429s told apart, the reserved share of
//! a bucket kept free, 5xx and cut connections retried, broken bodies and
//! stalls turned into typed errors, never a partial snapshot.
//!
//! No test reads a clock: waits are checked by what the client decided
//! ([`RetryLog`]) and what the org served, so a loaded machine cannot fail
//! them.

use std::time::Duration;

use directory_core::http::RetryPolicy;
use directory_core::testing::RetryLog;
use directory_core::{DirectoryProviderExt, ErrorKind};
use okta_directory::testkit::{Fault, FaultKind, OktaOrg};

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        deadline: Duration::from_secs(20),
    }
}

#[tokio::test]
async fn a_429_is_waited_out_until_x_rate_limit_reset() {
    let org = OktaOrg::builder().users(450).start().await.unwrap();
    org.inject(Fault::status(429).on_path("/api/v1/users").after(1));
    let okta = org.provider_builder().build().unwrap();
    let log = RetryLog::capture();
    let users = okta.all_users().await.unwrap();
    assert_eq!(users.len(), org.ground_truth().users.len());
    assert_eq!(org.rate_limited(), 1);
    // Reset is one second ahead by the server's Date (whole seconds, so the
    // date may already be the next one); the client waits reset - date
    // + 1 s, plus at most 10% of jitter: the reset, never the backoff.
    let waits = log.waits();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].server_hint, "{waits:?}");
    let ms = waits[0].wait.as_millis();
    assert!((1000..=2200).contains(&ms), "waited {ms} ms");
}

#[tokio::test]
async fn a_concurrency_429_backs_off_instead_of_waiting_for_the_estimate() {
    let org = OktaOrg::builder().users(50).start().await.unwrap();
    org.inject(Fault::new(FaultKind::ConcurrencyLimited).on_path("/api/v1/users"));
    let okta = org
        .provider_builder()
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let log = RetryLog::capture();
    okta.all_users().await.unwrap();
    // The concurrency 429 advertises a reset a minute ahead; it is ignored
    // for the policy's own backoff (at most its 100 ms max_delay).
    let waits = log.waits();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(!waits[0].server_hint, "{waits:?}");
    assert!(waits[0].wait <= Duration::from_millis(100), "{waits:?}");
    assert_eq!(org.rate_limited(), 1);
}

#[tokio::test]
async fn the_reserved_share_of_a_bucket_is_left_free() {
    // 4 calls per 2 s window on the users bucket; half is reserved, so the
    // client sends two per window, waits for the reset, and is never refused.
    let org = OktaOrg::builder()
        .users(1_000)
        .inactive_share(0.0)
        .bucket_rate_limit("users", 4)
        .rate_window(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let okta = org
        .provider_builder()
        .include_deprovisioned(false)
        .reserve_share(0.5)
        .build()
        .unwrap();
    let log = RetryLog::capture();
    assert_eq!(okta.all_users().await.unwrap().len(), 1_000);
    assert_eq!(org.rate_limited(), 0, "no 429 served");
    assert_eq!(org.requests("users"), 5, "five pages of 200");
    // Five pages at two a window: the budget waited for a reset (at most a
    // window and the second the client adds), no retry was needed.
    let budget = log.events("down to its reserved share; waiting for the reset");
    assert!(!budget.is_empty(), "the budget never waited");
    for line in &budget {
        let ms: u64 = RetryLog::field(line, "wait_ms").unwrap().parse().unwrap();
        assert!(ms <= 3_000, "{line}");
    }
    assert!(log.waits().is_empty(), "{:?}", log.waits());
}

#[tokio::test]
async fn requests_in_flight_stay_below_the_org_concurrency_limit() {
    let org = OktaOrg::builder()
        .users(200)
        .groups(60)
        .concurrency_limit(6)
        .latency(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().concurrency_limit(6).build().unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&org.ground_truth()));
    assert_eq!(org.rate_limited(), 0, "no concurrency 429");
}

#[tokio::test]
async fn server_errors_and_cut_connections_are_retried() {
    let org = OktaOrg::builder()
        .users(450)
        .groups(8)
        .start()
        .await
        .unwrap();
    org.inject(Fault::status(500).on_path("/api/v1/users"));
    org.inject(Fault::status(502).on_path("/api/v1/groups/"));
    org.inject(Fault::status(503).on_path("/api/v1/apps/"));
    org.inject(Fault::status(504).on_path("/api/v1/groups"));
    org.inject(
        Fault::new(FaultKind::CutBody)
            .on_path("/api/v1/users")
            .after(1),
    );
    let okta = org
        .provider_builder()
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&org.ground_truth()));
}

#[tokio::test]
async fn persistent_server_errors_fail_the_snapshot_with_the_request_id() {
    let org = OktaOrg::builder()
        .users(50)
        .groups(8)
        .start()
        .await
        .unwrap();
    org.inject(
        Fault::status(500)
            .on_path("/api/v1/groups/")
            .after(5)
            .always(),
    );
    let okta = org
        .provider_builder()
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let err = okta.snapshot().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.code(), Some("E0000009"));
    assert!(err.request_id().is_some_and(|r| r.starts_with("sim-")));
}

#[tokio::test]
async fn truncated_and_malformed_bodies_are_errors_naming_the_problem() {
    let org = OktaOrg::builder().users(450).start().await.unwrap();
    let okta = org
        .provider_builder()
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    org.inject(
        Fault::new(FaultKind::TruncatedJson)
            .on_path("/api/v1/users")
            .after(1),
    );
    let err = okta.snapshot().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("Okta users page"), "{err}");

    org.inject(Fault::new(FaultKind::MalformedJson).on_path("/api/v1/users"));
    let err = okta.snapshot().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("[0].profile.login"), "{err}");
}

#[tokio::test]
async fn a_stall_past_the_timeout_is_a_transient_error_not_a_hang() {
    let org = OktaOrg::builder().users(20).start().await.unwrap();
    let okta = org
        .provider_builder()
        .timeout(Duration::from_millis(300))
        .retry_policy(RetryPolicy {
            max_attempts: 2,
            ..quick_retries()
        })
        .build()
        .unwrap();
    okta.all_users().await.unwrap();
    org.inject(
        Fault::new(FaultKind::Delay(Duration::from_secs(5)))
            .on_path("/api/v1/groups")
            .always(),
    );
    // The hang guard only: the error itself shows each attempt was cut at
    // the timeout (an attempt that waited out the 5 s stall would succeed).
    let err = tokio::time::timeout(Duration::from_secs(60), okta.snapshot())
        .await
        .expect("a hang")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.message().contains("timed out"), "{err}");
    assert!(err.message().contains("gave up after 2 attempts"), "{err}");
}
