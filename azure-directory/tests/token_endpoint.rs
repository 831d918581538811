//! The simulated token endpoint checks client assertions for real.

use azure_directory::testkit::{SimulatedTenant, TenantHandle};
use azure_directory::ClientCertificate;
use directory_core::http::reqwest;

async fn post(t: &TenantHandle, form: &[(&str, String)]) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(token_url(t))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn token_url(t: &TenantHandle) -> String {
    format!("{}/{}/oauth2/v2.0/token", t.base_url(), t.tenant_id())
}

fn form(t: &TenantHandle, assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", t.client_id().to_string()),
        ("scope", format!("{}/.default", t.base_url())),
        ("grant_type", "client_credentials".into()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion", assertion.to_string()),
    ]
}

fn code(body: &serde_json::Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn assertions_are_verified_for_audience_signature_and_replay() {
    let t = SimulatedTenant::builder()
        .users(5)
        .groups(2)
        .start()
        .await
        .unwrap();
    let cert =
        ClientCertificate::from_pem(t.certificate_pem(), Some(&t.certificate_key_pem())).unwrap();
    let good = cert.assertion(t.client_id(), &token_url(&t)).unwrap();
    let (status, body) = post(&t, &form(&t, &good)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some());

    let (status, body) = post(&t, &form(&t, &good)).await;
    assert_eq!(
        (status, code(&body)),
        (401, 7000273),
        "a replayed jti is refused: {body}"
    );

    let other_aud = "https://login.microsoftonline.com/other/oauth2/v2.0/token";
    let wrong_aud = cert.assertion(t.client_id(), other_aud).unwrap();
    let (status, body) = post(&t, &form(&t, &wrong_aud)).await;
    assert_eq!((status, code(&body)), (401, 700027), "{body}");

    let fresh = cert.assertion(t.client_id(), &token_url(&t)).unwrap();
    let forged = format!("{}AAAA", &fresh[..fresh.len() - 4]);
    let (status, body) = post(&t, &form(&t, &forged)).await;
    assert_eq!(
        (status, code(&body)),
        (401, 700027),
        "a bad signature is refused: {body}"
    );
    assert!(body["trace_id"].as_str().is_some());
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS700027"));
}

#[tokio::test]
async fn the_scope_must_be_the_graph_default_scope_of_the_same_cloud() {
    let t = SimulatedTenant::builder()
        .users(5)
        .groups(2)
        .start()
        .await
        .unwrap();
    let f = [
        ("client_id", t.client_id().to_string()),
        ("scope", "https://graph.microsoft.com/.default".to_string()),
        ("grant_type", "client_credentials".to_string()),
        (
            "client_secret",
            t.client_secret().expose_secret().to_string(),
        ),
    ];
    let (status, body) = post(&t, &f).await;
    assert_eq!((status, code(&body)), (400, 70011), "{body}");
}
