//! Token faults: a token that expires mid-sync, a token endpoint that is
//! down (briefly, then for good), and clock skew on the token's expiry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use azure_directory::testkit::SimulatedTenant;
use directory_core::{CollectOptions, ErrorKind, Snapshot};
use okta_directory::testkit::OktaOrg;

use crate::both_orgs;
use crate::orgs::{
    assert_complete, assert_error, assert_survived, clean_sync_requests, provider, spec, start,
    sync, Fault, Injection, Kind, Target,
};

both_orgs!(
    a_token_revoked_mid_sync_is_refreshed_once,
    a_token_endpoint_down_briefly_is_retried,
    a_token_endpoint_that_stays_down_is_a_typed_error,
    clock_skew_on_the_token_expiry_is_survived,
);

async fn a_token_revoked_mid_sync_is_refreshed_once(kind: Kind) {
    let sim = Arc::new(start(kind).await);
    let p = provider(&sim);
    let (org, fired) = (sim.clone(), Arc::new(AtomicBool::new(false)));
    let once = fired.clone();
    // After the second page of anything, the server stops honouring every
    // token it issued: the next calls get 401s.
    let opts = CollectOptions::default().with_progress(move |prog| {
        if prog.pages >= 2 && !once.swap(true, Ordering::SeqCst) {
            org.revoke_tokens();
        }
    });
    let got = Snapshot::collect(p.as_ref(), &opts).await;
    assert!(
        fired.load(Ordering::SeqCst),
        "the tokens were revoked mid-sync"
    );
    assert_complete(&sim, got);
}

async fn a_token_endpoint_down_briefly_is_retried(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    sim.inject(Injection::new(Fault::Status(503), Target::Token).times(2));
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn a_token_endpoint_that_stays_down_is_a_typed_error(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::Status(503), Target::Token).always());
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::Transient);
    assert_eq!(e.status(), Some(503), "{e}");
    assert!(e.provider().is_some(), "{e}");
}

/// The server's clock runs ahead: a token dies long before the `expires_in`
/// it was issued with. Each 401 refreshes the token once and the sync ends
/// complete.
async fn clock_skew_on_the_token_expiry_is_survived(kind: Kind) {
    match kind {
        Kind::Okta => {
            let org = OktaOrg::builder()
                .spec(&spec())
                .token_lifetime(Duration::from_secs(3600))
                .token_expires_early(Duration::from_secs(3600) - Duration::from_millis(500))
                .start()
                .await
                .unwrap();
            let okta = org
                .provider_builder()
                .retry_policy(crate::orgs::quick_retry())
                .timeout(crate::orgs::ATTEMPT_TIMEOUT)
                .build()
                .unwrap();
            // The token dies after half a second while the client holds it
            // as good for an hour: the second sync gets a 401 and refreshes.
            assert_complete(&org, sync(&okta).await);
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert_complete(&org, sync(&okta).await);
            assert!(okta.token_fetches() >= 2, "the skewed token was refreshed");
        }
        Kind::Azure => {
            // Graph tokens carry whole-second expiry: with 3599 s of skew on
            // a 3600 s token, it dies within two seconds while the client
            // holds it as good for an hour. A second sync after a pause uses
            // the cached token, gets a 401 and refreshes once.
            let tenant = SimulatedTenant::builder()
                .spec(&spec())
                .token_lifetime(Duration::from_secs(3600))
                .token_clock_skew(Duration::from_secs(3599))
                .start()
                .await
                .unwrap();
            let p = provider(&tenant);
            assert_complete(&tenant, sync(p.as_ref()).await);
            tokio::time::sleep(Duration::from_millis(2100)).await;
            assert_complete(&tenant, sync(p.as_ref()).await);
            assert!(
                tenant.tokens_issued() >= 2,
                "the skewed token was refreshed"
            );
        }
    }
}
