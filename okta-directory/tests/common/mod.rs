//! Helpers the secrets tests share.

use okta_directory::testkit::OktaOrg;

/// The private member `d` of the org's key, base64url.
pub fn private_d(org: &OktaOrg) -> String {
    let v: serde_json::Value = serde_json::from_str(org.private_jwk()).unwrap();
    v["d"].as_str().unwrap().to_string()
}

/// Fails naming the text if any secret appears in it.
pub fn assert_clean(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s.as_str()), "a secret leaked into: {text}");
    }
}
