//! Secrets never show: the private JWK and access tokens are absent from
//! every `Debug`, `Display` and error message (see `trace_secrets.rs`
//! for the log lines of a whole sync).

use directory_core::DirectoryProviderExt;
use okta_directory::testkit::OktaOrg;
use okta_directory::PrivateJwk;

mod common;
use common::{assert_clean, private_d};

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

#[tokio::test]
async fn a_malformed_token_response_is_an_error_without_the_token() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let token = "eyJraWQiOiJsZWFrZWQtdG9rZW4tdmFsdWUifQ.secret-part";
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":"soon"}}"#
        )))
        .mount(&server)
        .await;
    let org = OktaOrg::builder().users(1).start().await.unwrap();
    let okta = org.provider_builder().domain(server.uri()).build().unwrap();
    let err = okta.all_users().await.unwrap_err();
    assert_eq!(err.kind(), directory_core::ErrorKind::InvalidResponse);
    assert!(err.message().contains("token response"), "{err}");
    assert_clean(
        &format!("{err} {err:?}"),
        &[token.to_string(), "secret-part".into()],
    );
}
