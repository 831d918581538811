//! No secret in any output: every `tracing` event at TRACE (and every `log`
//! record, bridged) across whole syncs, every `Debug` and `Display` of the
//! builders, providers, check reports and errors, must hold none of the
//! private JWK's private parts, the client secret, the certificate's key, or
//! any access token the org issued during the run.
//!
//! The syncs include the paths where secrets are handled: first sign-in,
//! a 401 and refresh mid-sync, a token endpoint that fails, and (Entra) the
//! certificate credential.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use directory_core::testing::CapturedLogs;
use directory_core::{CollectOptions, DirectoryProvider, Snapshot};

use crate::both_orgs;
use crate::orgs::{
    assert_complete, azure_tenant, okta_org, provider, start, sync, Fault, Injection, Kind, Sim,
};

both_orgs!(no_secret_in_any_output_across_whole_syncs);

/// The secrets of one run and everything printed during it.
#[derive(Default)]
struct Ledger {
    secrets: Vec<(String, String)>,
    printed: Vec<String>,
}

impl Ledger {
    fn secret(&mut self, what: &str, value: impl Into<String>) {
        let value = value.into();
        assert!(value.len() >= 8, "{what} is long enough to search for");
        self.secrets.push((what.to_string(), value));
    }

    fn print(&mut self, value: &(impl std::fmt::Debug + ?Sized)) {
        self.printed.push(format!("{value:?}"));
        self.printed.push(format!("{value:#?}"));
    }

    fn assert_clean(&self, logs: &str) {
        assert!(
            self.secrets.len() >= 3,
            "secrets collected: {}",
            self.secrets.len()
        );
        for (what, secret) in &self.secrets {
            assert!(
                !logs.contains(secret.as_str()),
                "{what} in the tracing output"
            );
            for p in &self.printed {
                assert!(!p.contains(secret.as_str()), "{what} printed in: {p}");
            }
        }
    }
}

/// `log` records (reqwest's) are bridged into `tracing`, then captured.
fn bridge_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_log::LogTracer::init();
    });
}

async fn no_secret_in_any_output_across_whole_syncs(kind: Kind) {
    bridge_log();
    let capture = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    // The test runs on one thread (current-thread runtime): the org's server
    // and the client's connections log into this subscriber too.
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = Arc::new(start(kind).await);
    let mut ledger = Ledger::default();
    credentials(kind, &sim, &mut ledger);
    let p = provider(&sim);
    ledger.printed.push(p.to_string());
    ledger.printed.push(format!("{}", p.check().await));
    ledger.print(&p.check().await);

    // A whole sync, then one where every token is revoked mid-sync.
    assert_complete(&sim, sync(p.as_ref()).await);
    tokens(kind, &sim, &mut ledger);
    let revoked = revoking_sync(&sim, p.as_ref()).await;
    tokens(kind, &sim, &mut ledger);
    ledger.print(&revoked.as_ref().map(|s| s.users.len()));

    // Failures: the token endpoint down (a fresh provider must sign in).
    sim.inject(Injection::new(Fault::Status(503), crate::orgs::Target::Token).always());
    let fresh = provider(&sim);
    let err = sync(fresh.as_ref())
        .await
        .expect_err("the token endpoint is down");
    ledger.printed.push(err.to_string());
    ledger.print(&err);
    ledger.printed.push(format!("{}", fresh.check().await));
    sim.clear_faults();

    if kind == Kind::Azure {
        let t = azure_tenant(sim.as_ref());
        // The certificate credential: a signed assertion instead of a secret.
        let cert = t.provider_builder_with_certificate();
        ledger.print(&cert);
        let p = cert.build().expect("certificate provider");
        ledger.print(&p);
        assert_complete(&sim, sync(&p).await);
        tokens(kind, &sim, &mut ledger);
    }
    let logs = capture.text();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the capture works"
    );
    assert!(
        logs.len() > 1000,
        "a whole sync was logged: {} bytes",
        logs.len()
    );
    ledger.assert_clean(&logs);
}

/// The configured credentials, and the builders that hold them.
fn credentials(kind: Kind, sim: &Sim, ledger: &mut Ledger) {
    match kind {
        Kind::Okta => {
            let org = okta_org(sim.as_ref());
            let jwk: serde_json::Value =
                serde_json::from_str(org.private_jwk()).expect("the JWK is JSON");
            for part in ["d", "p", "q", "dp", "dq", "qi"] {
                if let Some(v) = jwk.get(part).and_then(|v| v.as_str()) {
                    ledger.secret(&format!("private JWK `{part}`"), v);
                }
            }
            ledger.secret("the private JWK", org.private_jwk());
            ledger.print(&org.provider_builder());
            ledger.print(&org.provider().expect("okta provider"));
            ledger.print(org);
        }
        Kind::Azure => {
            let t = azure_tenant(sim.as_ref());
            ledger.secret("client secret", t.client_secret().expose_secret());
            let key = t.certificate_key_pem();
            for line in key.expose_secret().lines().filter(|l| l.len() >= 40) {
                ledger.secret("certificate key", line);
            }
            ledger.print(&t.provider_builder());
            ledger.print(&t.provider().expect("azure provider"));
            ledger.print(t);
        }
    }
}

/// The access tokens the org issued so far.
fn tokens(kind: Kind, sim: &Sim, ledger: &mut Ledger) {
    match kind {
        Kind::Okta => {
            let live = okta_org(sim.as_ref()).live_tokens();
            assert!(!live.is_empty(), "a token is live");
            for t in live {
                ledger.secret("an access token", t);
            }
        }
        Kind::Azure => {
            let token = azure_tenant(sim.as_ref())
                .last_access_token()
                .expect("a token was issued");
            ledger.secret("an access token", token.expose_secret());
        }
    }
}

async fn revoking_sync(
    sim: &Arc<Sim>,
    p: &dyn DirectoryProvider,
) -> directory_core::Result<Snapshot> {
    let (org, fired) = (sim.clone(), Arc::new(AtomicBool::new(false)));
    let opts = CollectOptions::default().with_progress(move |prog| {
        if prog.pages >= 3 && !fired.swap(true, Ordering::SeqCst) {
            org.revoke_tokens();
        }
    });
    Snapshot::collect(p, &opts).await
}

/// The check can fail: a token logged once is found.
#[tokio::test]
#[should_panic(expected = "an access token in the tracing output")]
async fn a_leaked_token_is_caught() {
    let capture = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut ledger = Ledger::default();
    for (what, v) in [
        ("a", "secret-one"),
        ("b", "secret-two"),
        ("an access token", "tok-123456789"),
    ] {
        ledger.secret(what, v);
    }
    tracing::trace!(authorization = "Bearer tok-123456789", "request");
    ledger.assert_clean(&capture.text());
}
