//! PATCH semantics (RFC 7644 §3.5.2) one case at a time: start from a user,
//! apply operations, compare attributes of the result.

mod common;

use common::Harness;
use http::Method;
use serde_json::{json, Value};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn patched(start: Value, ops: Value) -> Value {
    let h = Harness::new();
    let id = h.send(Method::POST, "/Users", &start.to_string()).id();
    let r = h.send(
        Method::PATCH,
        &format!("/Users/{id}"),
        &json!({ "Operations": ops }).to_string(),
    );
    assert_eq!(r.status, 200, "{ops}: {}", r.body);
    r.body
}

fn base() -> Value {
    json!({
        "userName": "ada@x.test",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@work.test", "type": "work", "primary": true},
                   {"value": "ada@home.test", "type": "home"}],
        ENT: {"department": "R&D", "costCenter": "CC1"}
    })
}

#[test]
fn add_to_a_multi_valued_attribute_appends_without_duplicates() {
    let out = patched(
        base(),
        json!([{"op": "add", "path": "emails", "value": [
        {"value": "ada@work.test", "type": "work", "primary": true},
        {"value": "ada@other.test", "type": "other"}]}]),
    );
    let values: Vec<&str> = out["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["ada@work.test", "ada@home.test", "ada@other.test"]);
}

#[test]
fn replace_of_a_multi_valued_attribute_replaces_the_list() {
    let out = patched(
        base(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "new@x.test"}]}]),
    );
    assert_eq!(out["emails"], json!([{"value": "new@x.test"}]));
}

#[test]
fn replace_of_a_complex_attribute_merges_its_sub_attributes() {
    let out = patched(
        base(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Augusta"}}]),
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Augusta", "familyName": "Lovelace"})
    );
}

#[test]
fn remove_by_value_filter_and_of_a_sub_attribute() {
    let out = patched(
        base(),
        json!([
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "remove", "path": "emails[type eq \"work\"].primary"},
            {"op": "remove", "path": "name.familyName"}
        ]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "ada@work.test", "type": "work"}])
    );
    assert_eq!(out["name"], json!({"givenName": "Ada"}));
}

#[test]
fn filtered_sub_attribute_replace_touches_only_matching_values() {
    let out = patched(
        base(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "ada@new-home.test"}]),
    );
    assert_eq!(out["emails"][0]["value"], "ada@work.test");
    assert_eq!(out["emails"][1]["value"], "ada@new-home.test");
}

#[test]
fn extension_attributes_by_path_by_object_and_whole() {
    let out = patched(
        base(),
        json!([
            {"op": "replace", "path": format!("{ENT}:department"), "value": "Ops"},
            {"op": "add", "value": {ENT: {"division": "North"}}},
            {"op": "remove", "path": format!("{ENT}:costCenter")}
        ]),
    );
    assert_eq!(out[ENT], json!({"department": "Ops", "division": "North"}));
    let gone = patched(base(), json!([{"op": "remove", "path": ENT}]));
    assert!(gone.get(ENT).is_none());
    assert!(!gone["schemas"].as_array().unwrap().iter().any(|s| s == ENT));
}

#[test]
fn attribute_names_and_ops_are_case_insensitive() {
    let out = patched(
        base(),
        json!([
            {"op": "REPLACE", "path": "DisplayName", "value": "Ada L."},
            {"op": "Add", "path": "NAME.MIDDLENAME", "value": "King"}
        ]),
    );
    assert_eq!(out["displayName"], "Ada L.");
    assert_eq!(out["name"]["middleName"], "King");
}

#[test]
fn unknown_attributes_can_be_patched_and_removed() {
    let out = patched(
        base(),
        json!([{"op": "add", "path": "badge", "value": "B-7"}]),
    );
    assert_eq!(out["badge"], "B-7");
    let h = Harness::new();
    let id = h
        .send(
            Method::POST,
            "/Users",
            &json!({"userName": "b@x.test", "badge": "B-1"}).to_string(),
        )
        .id();
    let r = h.send(
        Method::PATCH,
        &format!("/Users/{id}"),
        r#"{"Operations":[{"op":"remove","path":"BADGE"}]}"#,
    );
    assert!(r.body.get("badge").is_none(), "{}", r.body);
}
