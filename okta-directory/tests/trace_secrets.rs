//! No secret in any TRACE-level log line of a whole sync, a token refresh
//! and failing checks. Alone in its binary: the subscriber is global, so
//! every callsite (client, core and simulated org) reports to it.

use directory_core::testing::CapturedLogs;
use directory_core::{DirectoryProvider, DirectoryProviderExt};
use okta_directory::testkit::{Misconfig, OktaOrg};
use okta_directory::OktaDirectory;

mod common;
use common::{assert_clean, private_d};

#[tokio::test(flavor = "current_thread")]
async fn a_whole_sync_and_failing_checks_log_no_secret_at_trace() {
    let captured = CapturedLogs::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let org = OktaOrg::builder()
        .users(450)
        .groups(5)
        .start()
        .await
        .unwrap();
    let okta: OktaDirectory = org.provider_builder().build().unwrap();
    okta.snapshot().await.unwrap();
    let mut secrets = org.live_tokens();
    secrets.push(private_d(&org));
    org.revoke_tokens();
    okta.snapshot().await.unwrap();
    secrets.extend(org.live_tokens());
    let mut texts = Vec::new();
    for m in [
        Misconfig::NoAdminRole,
        Misconfig::DpopMismatch,
        Misconfig::BadSignature,
    ] {
        org.clear_misconfig();
        org.revoke_tokens();
        org.misconfigure(m);
        let report = okta.check().await;
        assert!(!report.is_ok());
        texts.push(format!("{report} {report:?}"));
    }
    let logs = captured.text();
    assert!(
        logs.contains("request"),
        "the capture works: {}",
        logs.len()
    );
    texts.push(logs);
    assert_eq!(secrets.len(), 3, "two tokens and the key");
    for t in &texts {
        assert_clean(t, &secrets);
    }
}
