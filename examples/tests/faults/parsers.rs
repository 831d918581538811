//! Nothing a server sends panics a parser.
//!
//! * The header parsers in directory-core (`Link`, `Retry-After` in seconds
//!   and as an HTTP date, `X-Rate-Limit-*`, `Date`), called directly.
//! * Both providers' exported page decoders, called directly (many cases).
//! * Both providers' page decoders (users, groups, members, app
//!   assignments), driven through the real providers by a wiremock server
//!   that answers every GET with arbitrary bytes, arbitrary JSON, or a real
//!   page cut or corrupted at a random place; and Okta's `Link` and both
//!   APIs' rate-limit headers with arbitrary values. A 200 with a bad body
//!   must end in an `InvalidResponse` error, never a panic or a hang.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use directory_core::http::reqwest::header::{HeaderMap, HeaderValue};
use directory_core::http::{
    next_link, parse_retry_after, server_now, OriginGuard, RateLimitHeaders, RetryPolicy,
};
use directory_core::ErrorKind;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use wiremock::ResponseTemplate;

use crate::both_orgs;
use crate::orgs::{quick_retry, Kind};
use crate::wire::{drain_all, provider_at, WireApi};

/// Cases per property that runs a provider over loopback.
const WIRE_CASES: u32 = 40;

proptest! {
    #![proptest_config(Config { cases: 512, failure_persistence: None, ..Config::default() })]

    #[test]
    fn link_headers_never_panic(values in proptest::collection::vec(link_like(), 0..4)) {
        let got = next_link(values.iter().map(String::as_str));
        if let Some(link) = got {
            prop_assert!(values.iter().any(|v| v.contains(&link)), "{link} came from the input");
        }
    }

    #[test]
    fn the_origin_guard_never_panics_and_keeps_the_origin(link in prop_oneof![link_like(), url_like()]) {
        let base = directory_core::http::url::Url::parse("https://acme.okta.com").unwrap();
        let guard = OriginGuard::new(&base);
        if let Ok(url) = guard.check(&link) {
            prop_assert_eq!(url.origin(), base.origin());
        }
    }

    #[test]
    fn retry_after_never_panics(v in retry_after_like(), now in 0u64..4_000_000_000) {
        let now = UNIX_EPOCH + Duration::from_secs(now);
        let _ = parse_retry_after(&v, now);
    }

    #[test]
    fn rate_limit_headers_never_panic(
        limit in header_number(), remaining in header_number(), reset in header_number(),
        date in retry_after_like(),
    ) {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("x-rate-limit-limit", &limit), ("x-rate-limit-remaining", &remaining),
            ("x-rate-limit-reset", &reset), ("date", &date),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
        let rl = RateLimitHeaders::parse(&h);
        let _ = rl.wait_until_reset(server_now(&h));
        let _ = rl.wait_until_reset(SystemTime::now());
    }
}

proptest! {
    #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

    /// The providers' exported page decoders, called directly: whatever the
    /// bytes, an error is `InvalidResponse`, never a panic.
    #[test]
    fn okta_page_decoders_never_panic_on_any_body(body in body(Kind::Okta)) {
        use okta_directory::wire::{app_users_page, groups_page, members_page, users_page};
        let kinds = [
            users_page(&body).err().map(|e| e.kind()),
            groups_page(&body).err().map(|e| e.kind()),
            members_page("00g1", &body).err().map(|e| e.kind()),
            app_users_page(&body).err().map(|e| e.kind()),
        ];
        for k in kinds.into_iter().flatten() {
            prop_assert_eq!(k, ErrorKind::InvalidResponse);
        }
    }

    #[test]
    fn azure_page_decoders_never_panic_on_any_body(body in body(Kind::Azure)) {
        use azure_directory::wire::{groups_page, members_page, users_page};
        let kinds = [
            users_page(&body).err().map(|e| e.kind()),
            groups_page(&body).err().map(|e| e.kind()),
            members_page(&body).err().map(|e| e.kind()),
        ];
        for k in kinds.into_iter().flatten() {
            prop_assert_eq!(k, ErrorKind::InvalidResponse);
        }
    }
}

fn link_like() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "[<>;,= \"a-z:/.?&]{0,60}",
        ("[ -~]{0,40}", "(next|self|prev|NEXT| next )", "[ -~]{0,10}")
            .prop_map(|(u, rel, tail)| format!("<{u}>; rel=\"{rel}\"{tail}")),
    ]
}

fn url_like() -> impl Strategy<Value = String> {
    "(https?|HTTPS|ftp)://(acme\\.okta\\.com|ACME\\.okta\\.com|evil\\.test|acme\\.okta\\.com\\.evil\\.test|u:p@acme\\.okta\\.com)(:[0-9]{1,5})?(/[ -~]{0,20})?"
}

fn retry_after_like() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "-?[0-9]{0,25}(\\.[0-9]{0,12})?(e[0-9]{1,4})?",
        (0u64..300_000_000_000).prop_map(|s| httpdate::fmt_http_date(
            UNIX_EPOCH + Duration::from_secs(s % 253_402_300_799)
        )),
        "(Mon|Sun|Xyz), [0-9]{1,2} (Jan|Feb|Foo) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    ]
}

fn header_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{0,30}",
        "[ -~]{0,20}",
    ]
}

/// Arbitrary JSON, a few levels deep, with the keys the decoders look for.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_string()),
        Just("status".to_string()),
        Just("profile".to_string()),
        Just("login".to_string()),
        Just("email".to_string()),
        Just("value".to_string()),
        Just("@odata.nextLink".to_string()),
        Just("@odata.type".to_string()),
        Just("principalId".to_string()),
        Just("accountEnabled".to_string()),
        Just("scope".to_string()),
        Just("_links".to_string()),
        "[a-zA-Z@.]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A real page of each API (from the API references' examples).
fn real_page(kind: Kind) -> Vec<u8> {
    let page = match kind {
        Kind::Okta => serde_json::json!([{
            "id": "00u1f96ECLNVOKVMUSEA", "status": "ACTIVE",
            "created": "2013-12-12T16:14:22.000Z", "lastUpdated": "2013-12-12T16:14:22.000Z",
            "profile": {"firstName": "Easy", "lastName": "E", "email": "easy-e@example.com",
                        "login": "easy-e@example.com", "mobilePhone": null},
            "scope": "USER", "type": {"id": "otyfnjfba4ye7pgjB0g4"},
            "_links": {"self": {"href": "https://example.okta.com/api/v1/users/00u1f96ECLNVOKVMUSEA"}}
        }]),
        Kind::Azure => serde_json::json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
            "value": [{
                "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Adele Vance",
                "userPrincipalName": "AdeleV@contoso.com", "mail": "AdeleV@contoso.com",
                "accountEnabled": true, "givenName": "Adele", "surname": "Vance",
                "principalId": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "principalType": "User",
                "@odata.type": "#microsoft.graph.user"
            }]
        }),
    };
    serde_json::to_vec(&page).unwrap_or_default()
}

/// A real page, cut at a random place or with one byte replaced.
fn corrupted(kind: Kind) -> impl Strategy<Value = Vec<u8>> {
    let page = real_page(kind);
    let len = page.len();
    (0..len, any::<u8>(), any::<bool>()).prop_map(move |(at, byte, cut)| {
        let mut p = page.clone();
        if cut {
            p.truncate(at);
        } else {
            p[at] = byte;
        }
        p
    })
}

fn body(kind: Kind) -> impl Strategy<Value = Vec<u8>> {
    let shaped = json().prop_map(move |v| {
        let v = match kind {
            Kind::Okta => v,
            Kind::Azure => serde_json::json!({ "value": v }),
        };
        serde_json::to_vec(&v).unwrap_or_default()
    });
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        shaped,
        corrupted(kind),
    ]
}

/// Runs `strategy` through `WIRE_CASES` loopback syncs: each case mounts
/// what `serve` makes of the value (every GET's answer, and the token
/// endpoint's when given) and drains every listing, which must end
/// (no hang) and fail only with an allowed kind.
fn over_the_wire<S: Strategy>(
    kind: Kind,
    retry: RetryPolicy,
    strategy: S,
    allowed: &'static [ErrorKind],
    serve: impl Fn(S::Value) -> (ResponseTemplate, Option<ResponseTemplate>),
) where
    S::Value: std::fmt::Debug,
{
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let api = rt.block_on(WireApi::start(kind));
    let config = Config {
        cases: WIRE_CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        rt.block_on(async {
            api.reset().await;
            let (resp, token) = serve(value);
            if let Some(t) = token {
                api.serve_token(t).await;
            }
            api.serve_every_get(resp).await;
            // A fresh provider per case: no token or rate-limit state carried over.
            let provider = provider_at(kind, &api.server.uri(), retry.clone()).await;
            let limit = Duration::from_secs(15);
            let results = tokio::time::timeout(limit, drain_all(provider.as_ref()))
                .await
                .map_err(|_| TestCaseError::fail("a listing hung"))?;
            for r in results {
                if let Err(e) = r {
                    prop_assert!(allowed.contains(&e.kind()), "{:?}: {e}", e.kind());
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{kind:?}: {e}");
    }
}

fn page_bodies_never_panic(kind: Kind) {
    over_the_wire(
        kind,
        quick_retry(),
        body(kind),
        &[ErrorKind::InvalidResponse],
        |b| {
            let page = ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_bytes(b);
            (page, None)
        },
    );
}

#[test]
fn okta_page_decoders_never_panic() {
    page_bodies_never_panic(Kind::Okta);
}

#[test]
fn azure_page_decoders_never_panic() {
    page_bodies_never_panic(Kind::Azure);
}

/// Okta follows `Link` headers; any value either ends the listing, is
/// followed (on the same origin), or is refused.
#[test]
fn okta_link_headers_never_panic() {
    let links = proptest::collection::vec(link_like(), 0..3);
    over_the_wire(
        Kind::Okta,
        quick_retry(),
        links,
        &[ErrorKind::InvalidResponse],
        |values| {
            let mut r = ResponseTemplate::new(200).set_body_string("[]");
            for v in values.iter().filter(|v| HeaderValue::from_str(v).is_ok()) {
                r = r.append_header("link", v.as_str());
            }
            (r, None)
        },
    );
}

/// A 429 (or 503) with arbitrary `Retry-After` and rate-limit headers ends
/// in a typed error, quickly: a long wait is never started past the deadline.
fn throttle_headers_never_panic(kind: Kind) {
    let headers = (
        retry_after_like(),
        header_number(),
        header_number(),
        header_number(),
        prop_oneof![Just(429u16), Just(503u16)],
    );
    let allowed = &[ErrorKind::RateLimited, ErrorKind::Transient];
    // A deadline so short that any real wait is not started.
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        deadline: Duration::from_millis(200),
    };
    over_the_wire(
        kind,
        retry,
        headers,
        allowed,
        |(retry, limit, remaining, reset, status)| {
            let mut r = ResponseTemplate::new(status).set_body_string("{}");
            for (name, value) in [
                ("retry-after", &retry),
                ("x-rate-limit-limit", &limit),
                ("x-rate-limit-remaining", &remaining),
                ("x-rate-limit-reset", &reset),
            ] {
                if HeaderValue::from_str(value).is_ok() {
                    r = r.insert_header(name, value.as_str());
                }
            }
            (r, None)
        },
    );
}

#[test]
fn okta_throttle_headers_never_panic() {
    throttle_headers_never_panic(Kind::Okta);
}

#[test]
fn azure_throttle_headers_never_panic() {
    throttle_headers_never_panic(Kind::Azure);
}

/// `expires_in` as servers might send it, up to `u64::MAX`.
fn expires_in() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        any::<u64>().prop_map(|n| Value::from(n.to_string())),
        any::<f64>().prop_map(Value::from),
    ]
}

/// Whatever the token endpoint answers with a 200 or a 400 (bytes, JSON of
/// any shape), signing in ends in a typed error or a token, never a panic.
fn token_responses_never_panic(kind: Kind) {
    let token_body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        (".{0,12}", expires_in(), ".{0,12}").prop_map(|(t, e, ty)| {
            let v = serde_json::json!({"access_token": t, "expires_in": e, "token_type": ty});
            serde_json::to_vec(&v).unwrap_or_default()
        }),
    ];
    let cases = (
        token_body,
        prop_oneof![Just(200u16), Just(400u16), Just(401u16)],
    );
    let allowed = &[
        ErrorKind::InvalidResponse,
        ErrorKind::InvalidCredential,
        ErrorKind::Unauthenticated,
        ErrorKind::Rejected,
        ErrorKind::InvalidConfig,
        ErrorKind::PermissionDenied,
    ];
    over_the_wire(kind, quick_retry(), cases, allowed, |(body, status)| {
        let token = ResponseTemplate::new(status).set_body_bytes(body);
        (
            ResponseTemplate::new(200).set_body_string("[]"),
            Some(token),
        )
    });
}

#[test]
fn okta_token_responses_never_panic() {
    token_responses_never_panic(Kind::Okta);
}

#[test]
fn azure_token_responses_never_panic() {
    token_responses_never_panic(Kind::Azure);
}

both_orgs!(huge_expires_in_from_the_token_endpoint_does_not_panic,);

/// A token endpoint that says the token lasts `u64::MAX` seconds: the token
/// is used (its lifetime capped), and nothing panics.
async fn huge_expires_in_from_the_token_endpoint_does_not_panic(kind: Kind) {
    let api = WireApi::start(kind).await;
    let token = serde_json::json!({
        "access_token": "tok-huge-expiry", "token_type": "Bearer", "expires_in": u64::MAX,
    });
    api.serve_token(ResponseTemplate::new(200).set_body_json(token))
        .await;
    api.serve_every_get(ResponseTemplate::new(200).set_body_string("[]"))
        .await;
    let p = api.provider().await;
    let _ = crate::orgs::sync(p.as_ref()).await;
    let got = api.server.received_requests().await.unwrap_or_default();
    let used = got.iter().any(|r| {
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
        auth == Some("Bearer tok-huge-expiry")
    });
    assert!(used, "the token was used");
}
