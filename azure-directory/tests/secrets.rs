//! The client secret, the certificate's private key and the access token
//! never show in `Debug`, `Display`, errors or TRACE-level logs.

use azure_directory::testkit::{Misconfig, SimulatedTenant};
use directory_core::testing::CapturedLogs;
use directory_core::{DirectoryProvider, DirectoryProviderExt};

#[tokio::test]
async fn no_secret_key_or_token_in_debug_display_errors_or_logs() {
    let capture = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = SimulatedTenant::builder()
        .seed(77)
        .users(80)
        .groups(6)
        .start()
        .await
        .unwrap();
    let secret = t.client_secret().expose_secret().to_string();
    let key_pem = t.certificate_key_pem().expose_secret().to_string();
    let key_line = key_pem.lines().nth(3).unwrap().to_string();
    let mut seen = Vec::new();

    for builder in [t.provider_builder(), t.provider_builder_with_certificate()] {
        seen.push(format!("{builder:?}"));
        let azure = builder.build().unwrap();
        seen.push(format!("{azure:?} {azure}"));
        let snap = azure.snapshot().await.unwrap();
        seen.push(snap.provider.clone());
        let delta = azure.delta_sync(None).await.unwrap();
        seen.push(format!("{:?}", delta.state));
        let report = azure.check().await;
        seen.push(format!("{report} {report:?}"));
    }
    let token = t
        .last_access_token()
        .expect("a token was issued")
        .expose_secret()
        .to_string();
    t.misconfigure(Misconfig::WrongSecret);
    t.misconfigure(Misconfig::CertificateNotRegistered);
    t.revoke_tokens();
    for builder in [t.provider_builder(), t.provider_builder_with_certificate()] {
        let azure = builder.build().unwrap();
        let e = azure.all_users().await.unwrap_err();
        seen.push(format!("{e} {e:?}"));
        let report = azure.check().await;
        seen.push(format!("{report} {report:?}"));
    }
    let bad_key = t
        .provider_builder()
        .client_certificate(
            t.certificate_pem(),
            Some(directory_core::SecretString::new(
                "-----BEGIN PRIVATE KEY-----\nnot-a-key-s3cr3t\n-----END PRIVATE KEY-----",
            )),
        )
        .build()
        .unwrap_err();
    seen.push(format!("{bad_key} {bad_key:?}"));

    let logs = capture.text();
    assert!(logs.contains("request"), "TRACE logs were captured");
    seen.push(logs);
    let all = seen.join("\n");
    assert!(!all.contains(&secret), "the client secret leaked");
    assert!(!all.contains(&key_line), "the private key leaked");
    assert!(!all.contains(&token), "the access token leaked");
    assert!(
        !all.contains(token.split('.').nth(2).unwrap()),
        "the token signature leaked"
    );
    assert!(!all.contains("not-a-key-s3cr3t"));
}
