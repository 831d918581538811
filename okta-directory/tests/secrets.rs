//! Secrets never show: the private JWK and access tokens are absent from
//! every `Debug`, `Display`, error message and TRACE-level log line of a
//! whole sync, including failing ones.

use std::io::Write;
use std::sync::{Arc, Mutex};

use directory_core::{DirectoryProvider, DirectoryProviderExt};
use okta_directory::testkit::{Misconfig, OktaOrg};
use okta_directory::{OktaDirectory, PrivateJwk};

/// The private member `d` of the org's key, base64url.
fn private_d(org: &OktaOrg) -> String {
    let v: serde_json::Value = serde_json::from_str(org.private_jwk()).unwrap();
    v["d"].as_str().unwrap().to_string()
}

fn assert_clean(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s.as_str()), "a secret leaked into: {text}");
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn debug_and_display_show_no_key() {
    let org = OktaOrg::builder().users(5).start().await.unwrap();
    let d = private_d(&org);
    let builder = org.provider_builder();
    let key = PrivateJwk::from_json(org.private_jwk()).unwrap();
    let okta = builder.clone().build().unwrap();
    for text in [
        format!("{builder:?}"),
        format!("{key:?}"),
        format!("{okta:?}"),
        okta.to_string(),
        key.public_jwk().to_string(),
    ] {
        assert_clean(&text, std::slice::from_ref(&d));
    }
    assert!(okta.to_string().starts_with("okta(127.0.0.1:"));
}

#[tokio::test]
async fn malformed_keys_are_refused_without_echoing_them() {
    let secret = "SUPERSECRETKEYMATERIAL".to_string();
    for bad in [
        format!(r#"{{"kty":"EC","kid":"k","crv":"P-256","d":{secret}}}"#),
        format!(r#"{{"kty":"EC","kid":"k","crv":"P-256","d":"{secret}!"}}"#),
        format!(r#"{{"kty":"RSA","kid":"k","n":"{secret}","e":"AQAB"}}"#),
    ] {
        let err = PrivateJwk::from_json(&bad).unwrap_err();
        assert!(err.message().starts_with("private_jwk:"), "{err}");
        assert_clean(&format!("{err} {err:?}"), std::slice::from_ref(&secret));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_whole_sync_and_failing_checks_log_no_secret_at_trace() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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
    org.expire_tokens();
    okta.snapshot().await.unwrap();
    secrets.extend(org.live_tokens());
    let mut texts = Vec::new();
    for m in [
        Misconfig::NoAdminRole,
        Misconfig::DpopMismatch,
        Misconfig::BadSignature,
    ] {
        org.clear_misconfig();
        org.expire_tokens();
        org.misconfigure(m);
        let report = okta.check().await;
        assert!(!report.is_ok());
        texts.push(format!("{report} {report:?}"));
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
