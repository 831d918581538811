//! Token faults: a token that expires mid-sync, a token endpoint that is
//! down (briefly, then for good), and clock skew on the token's expiry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use directory_core::{CollectOptions, ErrorKind, Snapshot};
use okta_directory::testkit::OktaOrg;

use crate::both_orgs;
use crate::orgs::{
    assert_complete, assert_error, sync, Fault, Injection, Kind, Sim, Target, Tuning,
};

both_orgs!(
    a_token_revoked_mid_sync_is_refreshed_once,
    a_token_endpoint_down_briefly_is_retried,
    a_token_endpoint_that_stays_down_is_a_typed_error,
    clock_skew_on_the_token_expiry_is_survived,
);

async fn a_token_revoked_mid_sync_is_refreshed_once(kind: Kind) {
    let sim = Arc::new(Sim::start(kind).await);
    let p = sim.provider();
    let (org, fired) = (sim.clone(), Arc::new(AtomicBool::new(false)));
    let once = fired.clone();
    // After the second page of anything, the server stops honouring every
    // token it issued: the next calls get 401s.
    let opts = CollectOptions::default().with_progress(move |prog| {
        if prog.pages >= 2 && !once.swap(true, Ordering::SeqCst) {
            org.expire_tokens();
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
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::Status(503), Target::Token).times(2));
    assert_complete(&sim, sync(p.as_ref()).await);
}

async fn a_token_endpoint_that_stays_down_is_a_typed_error(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
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
                .seed(8)
                .users(40)
                .groups(5)
                .app_users(12)
                .token_lifetime(Duration::from_secs(3600))
                .token_expires_early(Duration::from_secs(3600) - Duration::from_millis(250))
                .latency(Duration::from_millis(15))
                .start()
                .await
                .unwrap();
            let sim = Sim::Okta(org);
            let p = sim.provider_with(&Tuning::default());
            assert_complete(&sim, sync(p.as_ref()).await);
            let Sim::Okta(org) = &sim else { unreachable!() };
            assert!(org.requests("token") >= 2, "the skewed token was refreshed");
        }
        Kind::Azure => {
            // The simulated tenant has no skew knob (see the report); what
            // skew does to a client (a token refused while its expires_in says
            // it is fresh) is served by revoking tokens twice mid-sync.
            let sim = Arc::new(Sim::start(kind).await);
            sim.set_latency(Duration::from_millis(15));
            let p = sim.provider();
            let org = sim.clone();
            let opts = CollectOptions::default().with_progress(move |prog| {
                if prog.pages == 2 || prog.pages == 5 {
                    org.expire_tokens();
                }
            });
            assert_complete(&sim, Snapshot::collect(p.as_ref(), &opts).await);
        }
    }
}
