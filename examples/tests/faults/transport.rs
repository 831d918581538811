//! Transport faults: 429 storms, 5xx, stalls past the timeout, connections
//! cut mid-body. Each is survived (retried to a complete snapshot) while it
//! stays within the retry budget, and is a typed error once it outlasts it.

use std::sync::Arc;
use std::time::Duration;

use directory_core::ErrorKind;

use crate::both_orgs;
use crate::orgs::{
    assert_complete, assert_error, assert_survived, clean_sync_requests, okta_org, provider, start,
    sync, Fault, Injection, Kind, Target, STALL,
};

both_orgs!(
    a_429_storm_on_every_request_is_waited_out,
    a_429_storm_outlasting_the_retry_deadline_is_rate_limited,
    status_500_is_retried,
    status_502_is_retried,
    status_503_is_retried,
    status_504_is_retried,
    a_5xx_outlasting_the_retries_is_transient,
    a_5xx_and_a_cut_on_each_listing_are_retried,
    a_stall_past_the_timeout_is_retried,
    a_stall_on_every_attempt_is_transient,
    a_connection_cut_mid_body_is_retried,
    a_connection_cut_on_every_attempt_is_transient,
);

async fn a_429_storm_on_every_request_is_waited_out(kind: Kind) {
    let sim = Arc::new(start(kind).await);
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::Status(429), Target::Api).always());
    let calm = sim.clone();
    let storm = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        calm.clear_faults();
    });
    let got = sync(p.as_ref()).await;
    storm.await.unwrap();
    assert!(sim.stats().throttled >= 1, "the storm served 429s");
    assert_complete(&sim, got);
}

async fn a_429_storm_outlasting_the_retry_deadline_is_rate_limited(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::Status(429), Target::Api).always());
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::RateLimited);
    assert_eq!(e.status(), Some(429), "{e}");
}

async fn status_is_retried(kind: Kind, status: u16) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    // Twice in a row on the second users page, and once on a member page.
    sim.inject(
        Injection::new(Fault::Status(status), Target::Users)
            .after(1)
            .times(2),
    );
    sim.inject(Injection::new(Fault::Status(status), Target::Members).after(2));
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn status_500_is_retried(kind: Kind) {
    status_is_retried(kind, 500).await;
}
async fn status_502_is_retried(kind: Kind) {
    status_is_retried(kind, 502).await;
}
async fn status_503_is_retried(kind: Kind) {
    status_is_retried(kind, 503).await;
}
async fn status_504_is_retried(kind: Kind) {
    status_is_retried(kind, 504).await;
}

/// Users, groups, members, app assignments and the token endpoint each get
/// a 503 and a cut connection once: one sync survives them all.
async fn a_5xx_and_a_cut_on_each_listing_are_retried(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    for target in [Target::Users, Target::Groups, Target::Members, Target::Apps] {
        sim.inject(Injection::new(Fault::Status(503), target.clone()));
        sim.inject(Injection::new(Fault::CutBody, target).after(1));
    }
    sim.inject(Injection::new(Fault::Status(503), Target::Token));
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn a_5xx_outlasting_the_retries_is_transient(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(
        Injection::new(Fault::Status(502), Target::Members)
            .after(3)
            .always(),
    );
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::Transient);
    assert_eq!(e.status(), Some(502), "{e}");
    // Each failing request is tried at most `max_attempts` times, and the
    // sync stops at the first failure: the request count stays small.
    let served = sim.stats().requests;
    assert!(served < 80, "{served} requests for a 40-user org");
}

async fn a_stall_past_the_timeout_is_retried(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    sim.inject(Injection::new(Fault::Stall(STALL), Target::Users).after(1));
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn a_stall_on_every_attempt_is_transient(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(
        Injection::new(Fault::Stall(STALL), Target::Members)
            .after(1)
            .always(),
    );
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::Transient);
    assert!(e.to_string().contains("timed out"), "{e}");
}

async fn a_connection_cut_mid_body_is_retried(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    sim.inject(Injection::new(Fault::CutBody, Target::Users).after(1));
    sim.inject(Injection::new(Fault::CutBody, Target::Members).after(4));
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn a_connection_cut_on_every_attempt_is_transient(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(
        Injection::new(Fault::CutBody, Target::Users)
            .after(2)
            .always(),
    );
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::Transient);
    assert!(e.to_string().contains("gave up after"), "{e}");
}

/// Okta's concurrency limit: 429s with limit and remaining 0 (and a reset
/// only an estimate a minute ahead) are backed off, not waited out.
#[tokio::test]
async fn okta_a_concurrency_429_storm_is_backed_off() {
    use okta_directory::testkit::{Fault as OktaFault, FaultKind};
    crate::orgs::within_limit("okta concurrency storm", async {
        let sim = start(Kind::Okta).await;
        let org = okta_org(&sim);
        org.inject(
            OktaFault::new(FaultKind::ConcurrencyLimited)
                .on_path("/api/v1/")
                .times(6),
        );
        let log = directory_core::testing::RetryLog::capture();
        assert_complete(&sim, sync(provider(&sim).as_ref()).await);
        assert_eq!(org.rate_limited(), 6);
        // Six backoffs of the policy's own (at most its 80 ms max_delay),
        // not one wait for the minute-away reset.
        let waits = log.waits();
        assert_eq!(waits.len(), 6, "{waits:?}");
        assert!(
            waits
                .iter()
                .all(|w| !w.server_hint && w.wait <= Duration::from_millis(80)),
            "{waits:?}"
        );
    })
    .await;
}
