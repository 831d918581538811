//! Auth over loopback against the simulated org: private_key_jwt with EC and
//! RSA keys, DPoP detected and the nonce dance, refresh on a 401 in the
//! middle of a long list, and the org really enforcing DPoP binding.

use directory_core::http::RetryPolicy;
use directory_core::{DirectoryProvider, DirectoryProviderExt, ErrorKind};
use futures::StreamExt;
use okta_directory::testkit::{Fault, OktaOrg};

#[tokio::test]
async fn dpop_is_detected_and_the_nonce_dance_done() {
    let org = OktaOrg::builder().users(50).start().await.unwrap();
    let okta = org.provider_builder().build().unwrap();
    let users = okta.all_users().await.unwrap();
    assert_eq!(users.len(), org.ground_truth().users.len());
    // 1: no proof -> invalid_dpop_proof; 2: proof without nonce ->
    // use_dpop_nonce + DPoP-Nonce; 3: proof with the nonce -> DPoP token.
    assert_eq!(org.requests("token"), 3);
    assert_eq!(okta.token_fetches(), 1);
}

#[tokio::test]
async fn an_app_without_dpop_gets_a_bearer_token_in_one_request() {
    let org = OktaOrg::builder()
        .users(50)
        .require_dpop(false)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    assert!(okta
        .snapshot()
        .await
        .unwrap()
        .same_directory(&org.ground_truth()));
    assert_eq!(org.requests("token"), 1);
}

#[tokio::test]
async fn rsa_keys_sign_rs256_assertions() {
    let org = OktaOrg::builder()
        .users(20)
        .rsa_key(true)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    assert!(okta.check().await.is_ok());
    assert!(org.private_jwk().contains("\"RSA\""));
}

#[tokio::test]
async fn token_refreshed_once_when_it_expires_in_the_middle_of_a_long_list() {
    let org = OktaOrg::builder()
        .users(1_000)
        .inactive_share(0.0)
        .start()
        .await
        .unwrap();
    let okta = org
        .provider_builder()
        .include_deprovisioned(false)
        .build()
        .unwrap();
    let mut pages = okta.users();
    let mut seen = pages.next().await.unwrap().unwrap().len();
    org.revoke_tokens();
    while let Some(page) = pages.next().await {
        seen += page.unwrap().len();
    }
    assert_eq!(seen, 1_000);
    assert_eq!(okta.token_fetches(), 2, "one refresh after the 401");
    assert_eq!(
        org.requests("users"),
        5 + 1,
        "five pages plus the one refused"
    );
}

#[tokio::test]
async fn token_endpoint_down_is_a_transient_error() {
    let org = OktaOrg::builder().users(10).start().await.unwrap();
    org.inject(Fault::token_endpoint_down());
    let okta = org
        .provider_builder()
        .retry_policy(RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let err = okta.snapshot().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.request_id().is_some());
    org.clear_faults();
    assert!(
        okta.snapshot().await.is_ok(),
        "recovers once the endpoint is back"
    );
}

#[tokio::test]
async fn the_org_enforces_dpop_binding_for_real() {
    let org = OktaOrg::builder().users(10).start().await.unwrap();
    let okta = org.provider_builder().build().unwrap();
    okta.all_users().await.unwrap();
    let token = org.live_tokens().pop().unwrap();
    let url = format!("{}/api/v1/users", org.base_url());
    let http = reqwest_client();
    // A DPoP-bound token without a proof, and with the Bearer scheme.
    for scheme in ["DPoP", "Bearer"] {
        let resp = http
            .get(&url)
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{scheme}");
        let www = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(www.contains("error=\"invalid_"), "{www}");
    }
    // A proof signed by another key (a replayed header from elsewhere).
    let resp = http
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

fn reqwest_client() -> directory_core::http::reqwest::Client {
    directory_core::http::reqwest::Client::new()
}

#[tokio::test]
async fn a_token_that_dies_before_its_advertised_expiry_is_refreshed_once() {
    // The org says 60 s but kills tokens after 1 s (clock skew on expiry).
    let org = OktaOrg::builder()
        .users(450)
        .token_lifetime(std::time::Duration::from_secs(60))
        .token_expires_early(std::time::Duration::from_secs(59))
        .latency(std::time::Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let okta = org.provider().unwrap();
    let snapshot = okta.snapshot().await.unwrap();
    assert!(snapshot.same_directory(&org.ground_truth()));
    assert!(okta.token_fetches() >= 2, "refreshed after the 401");
}

#[tokio::test]
async fn a_redirect_is_not_followed_with_credentials() {
    let other = wiremock::MockServer::start().await;
    let org = OktaOrg::builder().users(10).start().await.unwrap();
    org.inject(
        Fault::new(okta_directory::testkit::FaultKind::Redirect(format!(
            "{}/steal",
            other.uri()
        )))
        .on_path("/api/v1/users"),
    );
    let okta = org
        .provider_builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = okta.all_users().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_resource_server_nonce_is_taken_up_without_a_token_refresh() {
    let org = OktaOrg::builder()
        .users(450)
        .require_resource_nonce(true)
        .start()
        .await
        .unwrap();
    let okta = org.provider().unwrap();
    assert!(okta
        .snapshot()
        .await
        .unwrap()
        .same_directory(&org.ground_truth()));
    assert_eq!(
        okta.token_fetches(),
        1,
        "a nonce 401 is not a token problem"
    );
}

#[tokio::test]
async fn dpop_mode_always_skips_detection_and_never_is_refused_by_an_org_that_demands_it() {
    use okta_directory::DpopMode;
    let org = OktaOrg::builder().users(20).start().await.unwrap();
    let always = org
        .provider_builder()
        .dpop(DpopMode::Always)
        .build()
        .unwrap();
    assert_eq!(always.all_users().await.unwrap().len(), 20);
    // A proof from the start: only the nonce round trip is left.
    assert_eq!(org.requests("token"), 2);

    let never = org
        .provider_builder()
        .dpop(DpopMode::Never)
        .build()
        .unwrap();
    let err = never.all_users().await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::InvalidCredential | ErrorKind::InvalidConfig | ErrorKind::Unauthenticated
        ),
        "{err}"
    );
    assert!(err.to_string().to_lowercase().contains("dpop"), "{err}");
}
