//! `build()` validates every field and names the one that is wrong;
//! `from_env()` reads the documented variables.

use std::time::Duration;

use directory_core::http::RetryPolicy;
use directory_core::ErrorKind;
use okta_directory::testkit::OktaOrg;
use okta_directory::{OktaDirectory, OktaDirectoryBuilder, PageLimits};

async fn key() -> String {
    let org = OktaOrg::builder()
        .users(1)
        .groups(0)
        .app_users(0)
        .start()
        .await
        .unwrap();
    org.private_jwk().to_string()
}

fn base(jwk: &str) -> OktaDirectoryBuilder {
    OktaDirectory::builder()
        .domain("acme.okta.com")
        .client_id("0oa1b2c3d4e5f6g7h8i9")
        .private_jwk(jwk)
        .app_id("0oa6n2bX8yTq4Kc1e5d7")
}

fn field_error(b: OktaDirectoryBuilder) -> String {
    let err = b.build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    err.message().to_string()
}

#[tokio::test]
async fn domains_with_or_without_scheme_and_custom_domains_are_accepted() {
    let jwk = key().await;
    for (domain, shown) in [
        ("acme.okta.com", "okta(acme.okta.com)"),
        ("https://acme.okta.com", "okta(acme.okta.com)"),
        ("https://acme.okta.com/", "okta(acme.okta.com)"),
        ("login.acme.example", "okta(login.acme.example)"),
    ] {
        let okta = base(&jwk).domain(domain).build().unwrap();
        assert_eq!(okta.to_string(), shown);
    }
}

#[tokio::test]
async fn bad_domains_name_the_field() {
    let jwk = key().await;
    for (domain, says) in [
        ("https://acme.okta.com/oauth2/default", "has a path"),
        ("http://acme.okta.com", "http://"),
        ("acme-admin.okta.com", "-admin"),
        ("https://acme.okta.com?x=1", "query"),
        ("", "missing"),
    ] {
        let msg = field_error(base(&jwk).domain(domain));
        assert!(
            msg.starts_with("domain:") && msg.contains(says),
            "{domain}: {msg}"
        );
    }
    assert!(base(&jwk)
        .domain("http://127.0.0.1:9")
        .allow_insecure_http(true)
        .build()
        .is_ok());
}

#[tokio::test]
async fn every_other_field_is_validated() {
    let jwk = key().await;
    assert!(field_error(base(&jwk).client_id(" ")).starts_with("client_id:"));
    assert!(field_error(base(&jwk).private_jwk("")).starts_with("private_jwk:"));
    assert!(field_error(base(&jwk).app_id("not an id!")).starts_with("app_id:"));
    assert!(field_error(base(&jwk).reserve_share(0.95)).starts_with("reserve_share:"));
    assert!(field_error(base(&jwk).concurrency_limit(0)).starts_with("concurrency_limit:"));
    let limits = PageLimits {
        users: 500,
        ..PageLimits::default()
    };
    assert!(field_error(base(&jwk).page_limits(limits)).starts_with("page_limits.users:"));
}

/// Issue 13: `concurrency_limit(usize::MAX)` / `max_concurrency(usize::MAX)`
/// reached `Semaphore::new` and panicked. Every number is checked in
/// `build()`, and the error names the field and its range.
#[tokio::test]
async fn every_number_out_of_range_is_refused_naming_it() {
    let jwk = key().await;
    let long = Duration::from_secs(u64::MAX);
    let cases = [
        (
            base(&jwk).concurrency_limit(usize::MAX),
            "concurrency_limit",
        ),
        (base(&jwk).concurrency_limit(10_001), "concurrency_limit"),
        (base(&jwk).max_concurrency(usize::MAX), "max_concurrency"),
        (base(&jwk).max_concurrency(0), "max_concurrency"),
        (base(&jwk).member_concurrency(0), "member_concurrency"),
        (base(&jwk).member_concurrency(1025), "member_concurrency"),
        (base(&jwk).page_size(0), "page_size"),
        (base(&jwk).page_size(10_001), "page_size"),
        (base(&jwk).timeout(Duration::ZERO), "timeout"),
        (base(&jwk).timeout(long), "timeout"),
        (base(&jwk).reserve_share(f64::NAN), "reserve_share"),
        (
            base(&jwk).retry_policy(RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            }),
            "retry_policy",
        ),
        (
            base(&jwk).retry_policy(RetryPolicy {
                deadline: long,
                ..RetryPolicy::default()
            }),
            "retry_policy",
        ),
    ];
    for (b, field) in cases {
        let msg = field_error(b);
        assert!(msg.starts_with(&format!("{field}: ")), "{field}: {msg}");
        assert!(
            msg.contains("outside") || msg.contains("must be"),
            "names the range: {msg}"
        );
    }
    let edge = base(&jwk)
        .concurrency_limit(10_000)
        .max_concurrency(1024)
        .timeout(Duration::from_secs(3600));
    assert!(edge.build().is_ok());
    assert!(base(&jwk).concurrency_limit(10_000).build().is_ok());
}

/// `max_concurrency` is the requests in flight in both providers: by default
/// Okta's is the org's concurrency limit less the reserved share, and a
/// value above that is refused naming what to change, not silently lowered.
/// `member_concurrency` defaults to two below it.
#[tokio::test]
async fn max_concurrency_is_the_value_and_member_concurrency_follows_it() {
    use directory_core::DirectoryProvider;
    let jwk = key().await;
    let default = base(&jwk).build().unwrap();
    assert_eq!(
        default.member_concurrency(),
        58,
        "75 less 20% is 60, less two"
    );
    let eight = base(&jwk).max_concurrency(8).build().unwrap();
    assert_eq!(eight.member_concurrency(), 6);
    let set = base(&jwk)
        .max_concurrency(8)
        .member_concurrency(3)
        .build()
        .unwrap();
    assert_eq!(set.member_concurrency(), 3);
    assert_eq!(
        base(&jwk)
            .max_concurrency(1)
            .build()
            .unwrap()
            .member_concurrency(),
        1
    );
    let msg = field_error(base(&jwk).concurrency_limit(35).max_concurrency(29));
    assert!(msg.starts_with("max_concurrency: 29 is more than"), "{msg}");
    assert!(
        msg.contains("(28)") && msg.contains("concurrency_limit"),
        "{msg}"
    );
    assert!(base(&jwk)
        .concurrency_limit(35)
        .max_concurrency(28)
        .build()
        .is_ok());
    assert!(base(&jwk)
        .concurrency_limit(35)
        .reserve_share(0.0)
        .max_concurrency(34)
        .build()
        .is_ok());
}

/// A key parsed once can be given as a `PrivateJwk`; the last key setter
/// wins, and `Debug` of the builder shows neither key.
#[tokio::test]
async fn a_parsed_key_is_accepted_and_never_printed() {
    let jwk = key().await;
    let parsed = okta_directory::PrivateJwk::from_json(&jwk).unwrap();
    let b = OktaDirectory::builder()
        .domain("acme.okta.com")
        .client_id("0oa1")
        .credential(parsed.clone());
    let shown = format!("{b:?}");
    assert!(shown.contains(parsed.kid()), "{shown}");
    let d = serde_json::from_str::<serde_json::Value>(&jwk).unwrap()["d"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!shown.contains(&d), "{shown}");
    assert!(b.clone().build().is_ok());
    let replaced = b.clone().private_jwk("not json");
    assert!(!format!("{replaced:?}").contains("not json"));
    assert!(field_error(replaced).starts_with("private_jwk:"));
    assert!(b.private_jwk("").credential(parsed).build().is_ok());
}

#[tokio::test]
async fn a_public_only_or_kidless_jwk_is_refused() {
    let jwk: serde_json::Value = serde_json::from_str(&key().await).unwrap();
    let mut public = jwk.clone();
    public.as_object_mut().unwrap().remove("d");
    let msg = field_error(base(&public.to_string()));
    assert!(msg.contains("private") && msg.contains("`d`"), "{msg}");
    let mut kidless = jwk.clone();
    kidless.as_object_mut().unwrap().remove("kid");
    assert!(field_error(base(&kidless.to_string())).contains("kid"));
    let mut wrong_curve = jwk;
    wrong_curve["crv"] = "P-521".into();
    assert!(field_error(base(&wrong_curve.to_string())).contains("P-256"));
}

#[tokio::test]
async fn scopes_follow_the_app_id() {
    let jwk = key().await;
    let with_app = base(&jwk).build().unwrap();
    assert_eq!(
        with_app.scopes(),
        ["okta.users.read", "okta.groups.read", "okta.apps.read"]
    );
    let no_app = OktaDirectory::builder()
        .domain("acme.okta.com")
        .client_id("0oa1")
        .private_jwk(jwk)
        .build()
        .unwrap();
    assert_eq!(no_app.scopes(), ["okta.users.read", "okta.groups.read"]);
}

/// `from_env_with` reads the documented variables through a closure, so no
/// test sets process environment.
#[tokio::test]
async fn from_env_reads_the_documented_variables() {
    let jwk = key().await;
    let dir = std::env::temp_dir().join(format!("okta-jwk-{}", std::process::id()));
    std::fs::write(&dir, &jwk).unwrap();
    let file = dir.display().to_string();
    let missing = dir.with_extension("missing").display().to_string();
    let from = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OktaDirectoryBuilder::from_env_with(move |n| {
            vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    };
    let okta = from(&[
        ("OKTA_DOMAIN", "acme.okta.com"),
        ("OKTA_CLIENT_ID", "0oa1"),
        ("OKTA_PRIVATE_JWK_FILE", &file),
        ("OKTA_APP_ID", "0oa2"),
    ])
    .unwrap()
    .build()
    .unwrap();
    assert_eq!(okta.to_string(), "okta(acme.okta.com)");
    assert_eq!(okta.scopes().len(), 3);

    let err = from(&[
        ("OKTA_DOMAIN", "acme.okta.com"),
        ("OKTA_PRIVATE_JWK_FILE", &missing),
    ])
    .unwrap_err();
    assert!(err.message().contains("OKTA_PRIVATE_JWK_FILE"), "{err}");

    // The inline JWK wins over the file; a blank domain counts as unset.
    let err = from(&[
        ("OKTA_DOMAIN", "  "),
        ("OKTA_CLIENT_ID", "0oa1"),
        ("OKTA_PRIVATE_JWK", &jwk),
        ("OKTA_PRIVATE_JWK_FILE", &missing),
    ])
    .unwrap()
    .build()
    .unwrap_err();
    assert!(
        err.message().starts_with("domain:") && err.message().contains("OKTA_DOMAIN"),
        "{err}"
    );
    let no_app = from(&[
        ("OKTA_DOMAIN", "acme.okta.com"),
        ("OKTA_CLIENT_ID", "0oa1"),
        ("OKTA_PRIVATE_JWK", &jwk),
    ])
    .unwrap()
    .build()
    .unwrap();
    assert_eq!(no_app.scopes().len(), 2);
    let _ = std::fs::remove_file(dir);
}
