//! Property tests: the filter parser, the PATCH parser and PATCH application
//! through the service never panic, whatever they are given.

mod common;

use common::Harness;
use http::Method;
use proptest::prelude::*;
use scim_directory::{parse_filter, parse_patch, FilterLimits};
use serde_json::{json, Value};

fn filter_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("userName".to_string()),
        Just("emails".to_string()),
        Just("emails.value".to_string()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".to_string()),
        Just(" eq ".to_string()),
        Just(" co ".to_string()),
        Just(" pr".to_string()),
        Just(" and ".to_string()),
        Just(" or ".to_string()),
        Just("not ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"a\\\"b\"".to_string()),
        Just("\"".to_string()),
        Just("true".to_string()),
        Just("1e999".to_string()),
        "[a-z\\\\\"\\[\\]()\\. :é]{0,6}",
    ];
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z\\[\\]\" .:]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("members[value eq \"x\"]"),
            Just("emails[type eq \"work\"].value"),
            Just("name.givenName"),
            Just("True"),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("op".to_string()),
                    Just("path".to_string()),
                    Just("value".to_string()),
                    Just("Operations".to_string()),
                    Just("active".to_string()),
                    Just("members".to_string()),
                    Just("emails".to_string()),
                    "[a-zA-Z.]{1,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn op() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("bogus")],
        prop::option::of(prop_oneof![
            filter_text(),
            Just("members".to_string()),
            Just("emails[type eq \"work\"].value".to_string()),
            Just("name.familyName".to_string()),
            Just("active".to_string()),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_string()),
        ]),
        json_value(),
    )
        .prop_map(|(op, path, value)| json!({"op": op, "path": path, "value": value}))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn filter_parser_never_panics(s in filter_text()) {
        let _ = parse_filter(&s, FilterLimits::default());
    }

    #[test]
    fn filter_parser_never_panics_on_any_string(s in "\\PC{0,64}") {
        let _ = parse_filter(&s, FilterLimits::default());
    }

    #[test]
    fn patch_path_parser_never_panics_on_any_string(path in "\\PC{0,64}", op in "[a-zA-Z]{0,8}") {
        let body = json!({"Operations": [{"op": op, "path": path, "value": "x"}]});
        let _ = parse_patch(&body, FilterLimits::default());
    }

    #[test]
    fn patch_parser_never_panics(body in json_value()) {
        let _ = parse_patch(&body, FilterLimits::default());
    }

    #[test]
    fn patching_through_the_service_never_panics(ops in prop::collection::vec(op(), 0..4)) {
        let h = Harness::new();
        let member = h.send(Method::POST, "/Users", r#"{"userName":"m@x.test"}"#).id();
        let user = h.send(Method::POST, "/Users", r#"{"userName":"u@x.test","emails":[{"value":"u@x.test","type":"work"}]}"#).id();
        let group = h.send(Method::POST, "/Groups", &format!(r#"{{"displayName":"G","members":[{{"value":"{member}"}}]}}"#)).id();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}).to_string();
        for path in [format!("/Users/{user}"), format!("/Groups/{group}")] {
            let r = h.send(Method::PATCH, &path, &body);
            prop_assert!(r.status == 200 || r.status == 204 || r.status == 400 || r.status == 409, "{} {}", r.status, r.body);
            let after = h.get(&path);
            prop_assert_eq!(after.status, 200);
        }
    }
}
