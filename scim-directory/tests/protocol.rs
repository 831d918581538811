//! The SCIM protocol surface: authentication and tenants, errors with
//! `scimType`, limits, filters, paging, projection and discovery.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::Harness;
use directory_core::ErrorKind;
use http::{Method, Request};
use scim_directory::{MemoryStore, ScimService, ServiceConfig};

fn raw(service: &ScimService, path: &str, auth: Option<&str>) -> http::Response<Bytes> {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    common::run(service.handle(req.body(Bytes::new()).unwrap()))
}

fn bearer_token_is_required_per_tenant_and_rotatable(h: Harness) {
    let other = common::run(h.service.create_tenant("globex", "Globex")).unwrap();
    let ok = format!("Bearer {}", h.token);
    assert_eq!(
        raw(&h.service, "/scim/v2/acme/Users", Some(&ok)).status(),
        200
    );
    let lower_scheme = format!("bearer {}", h.token);
    assert_eq!(
        raw(&h.service, "/scim/v2/acme/Users", Some(&lower_scheme)).status(),
        200
    );
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic abc"),
        Some(h.token.as_str()),
    ] {
        let resp = raw(&h.service, "/scim/v2/acme/Users", auth);
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["status"], "401");
    }
    let globex = format!("Bearer {}", other.token.expose_secret());
    assert_eq!(
        raw(&h.service, "/scim/v2/acme/Users", Some(&globex)).status(),
        401,
        "another tenant's token"
    );
    assert_eq!(
        raw(&h.service, "/scim/v2/nobody/Users", Some(&ok)).status(),
        401,
        "unknown tenant looks the same"
    );

    let new = common::run(h.service.rotate_token("acme", std::time::Duration::ZERO)).unwrap();
    assert_eq!(
        raw(&h.service, "/scim/v2/acme/Users", Some(&ok)).status(),
        401,
        "old token stops working"
    );
    let rotated = format!("Bearer {}", new.expose_secret());
    assert_eq!(
        raw(&h.service, "/scim/v2/acme/Users", Some(&rotated)).status(),
        200
    );
}

#[test]
fn tenants_are_validated_and_the_token_is_never_stored_or_printed() {
    let store = Arc::new(MemoryStore::new());
    let service = ScimService::new(store.clone());
    let t = common::run(service.create_tenant("acme", "Acme")).unwrap();
    assert_eq!(
        common::run(service.create_tenant("acme", "again"))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidConfig
    );
    assert_eq!(
        common::run(service.create_tenant("Not Valid", "x"))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidConfig
    );
    let secret = t.token.expose_secret();
    let record = common::run(service.tenant("acme")).unwrap();
    assert_ne!(record.token_hash.as_deref(), Some(secret));
    for shown in [
        format!("{service:?}"),
        format!("{t:?}"),
        format!("{record:?}"),
        format!("{store:?}"),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let resp = raw(&service, "/scim/v2/acme/Users", Some("Bearer scim_guess"));
    assert!(!String::from_utf8_lossy(resp.body()).contains("scim_guess"));
}

fn errors_carry_scim_type(h: Harness) {
    let cases: &[(Method, &str, &str, u16, Option<&str>)] = &[
        (
            Method::POST,
            "/Users",
            "{not json",
            400,
            Some("invalidSyntax"),
        ),
        (
            Method::POST,
            "/Users",
            r#"{"displayName":"no userName"}"#,
            400,
            Some("invalidValue"),
        ),
        (
            Method::POST,
            "/Users",
            r#"{"userName":"a","active":"sometimes"}"#,
            400,
            Some("invalidValue"),
        ),
        (
            Method::GET,
            "/Users?filter=userName%20zz%20%22x%22",
            "",
            400,
            Some("invalidFilter"),
        ),
        (
            Method::GET,
            "/Users?count=ten",
            "",
            400,
            Some("invalidValue"),
        ),
        (Method::GET, "/Nope", "", 404, None),
        (Method::DELETE, "/Users", "", 405, None),
        (
            Method::PATCH,
            "/Users/missing",
            r#"{"Operations":[]}"#,
            404,
            None,
        ),
    ];
    for (method, path, body, status, scim_type) in cases {
        let r = h.send(method.clone(), path, body);
        assert_eq!(r.status.as_u16(), *status, "{method} {path}: {}", r.body);
        assert_eq!(r.body["scimType"].as_str(), *scim_type, "{method} {path}");
        assert_eq!(r.body["schemas"][0], scim_directory::ERROR_SCHEMA);
    }
}

fn patch_errors_carry_scim_type(h: Harness) {
    let id = h
        .send(Method::POST, "/Users", r#"{"userName":"a@x.test"}"#)
        .id();
    let cases = [
        (r#"{"schemas":[]}"#, "invalidSyntax"),
        (
            r#"{"Operations":[{"op":"move","path":"title","value":"x"}]}"#,
            "invalidSyntax",
        ),
        (
            r#"{"Operations":[{"op":"replace","path":"emails[type eq","value":"x"}]}"#,
            "invalidPath",
        ),
        (r#"{"Operations":[{"op":"remove"}]}"#, "noTarget"),
        (
            r#"{"Operations":[{"op":"replace","path":"id","value":"x"}]}"#,
            "mutability",
        ),
        (
            r#"{"Operations":[{"op":"remove","path":"userName"}]}"#,
            "invalidValue",
        ),
        (
            r#"{"Operations":[{"op":"replace","path":"emails[type co \"w\"].value","value":"x"}]}"#,
            "noTarget",
        ),
    ];
    for (body, scim_type) in cases {
        let r = h.send(Method::PATCH, &format!("/Users/{id}"), body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["scimType"], scim_type, "{body}");
    }
}

fn user_name_is_unique_case_insensitively_on_create_put_and_patch(h: Harness) {
    h.send(Method::POST, "/Users", r#"{"userName":"Ada@X.test"}"#);
    let b = h
        .send(Method::POST, "/Users", r#"{"userName":"bob@x.test"}"#)
        .id();
    assert_eq!(
        h.send(Method::POST, "/Users", r#"{"userName":"ada@x.TEST"}"#)
            .status,
        409
    );
    assert_eq!(
        h.send(
            Method::PUT,
            &format!("/Users/{b}"),
            r#"{"userName":"ADA@x.test"}"#
        )
        .status,
        409
    );
    let patch = r#"{"Operations":[{"op":"replace","path":"userName","value":"ada@X.test"}]}"#;
    let r = h.send(Method::PATCH, &format!("/Users/{b}"), patch);
    assert_eq!(
        (r.status.as_u16(), r.body["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    let own = r#"{"Operations":[{"op":"replace","path":"userName","value":"BOB@x.test"}]}"#;
    assert_eq!(
        h.send(Method::PATCH, &format!("/Users/{b}"), own).status,
        200,
        "renaming to its own name in another case"
    );
}

#[test]
fn limits_on_body_filter_and_page_size() {
    let config = ServiceConfig {
        max_body_bytes: 512,
        max_page_size: 3,
        ..ServiceConfig::default()
    };
    let service = ScimService::with_config(Arc::new(MemoryStore::new()), config);
    let t = common::run(service.create_tenant("acme", "Acme")).unwrap();
    let auth = format!("Bearer {}", t.token.expose_secret());
    let big = format!(r#"{{"userName":"{}"}}"#, "a".repeat(600));
    let req = Request::post("/scim/v2/acme/Users")
        .header("authorization", &auth)
        .body(Bytes::from(big))
        .unwrap();
    assert_eq!(common::run(service.handle(req)).status(), 413);
    for i in 0..5 {
        let body = format!(r#"{{"userName":"u{i}@x.test"}}"#);
        let req = Request::post("/scim/v2/acme/Users")
            .header("authorization", &auth)
            .body(Bytes::from(body))
            .unwrap();
        assert_eq!(common::run(service.handle(req)).status(), 201);
    }
    let resp = raw(&service, "/scim/v2/acme/Users?count=100", Some(&auth));
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        (body["totalResults"].as_u64(), body["itemsPerPage"].as_u64()),
        (Some(5), Some(3))
    );
    let long = format!(
        "/scim/v2/acme/Users?filter=userName%20eq%20%22{}%22",
        "a".repeat(3000)
    );
    let resp = raw(&service, &long, Some(&auth));
    assert_eq!(resp.status(), 400);
    let deep = format!(
        "/scim/v2/acme/Users?filter={}userName%20pr{}",
        "(".repeat(30),
        ")".repeat(30)
    );
    assert_eq!(raw(&service, &deep, Some(&auth)).status(), 400);
}

fn paging_with_start_index_and_count(h: Harness) {
    for i in 0..5 {
        h.send(
            Method::POST,
            "/Users",
            &format!(r#"{{"userName":"u{i}@x.test"}}"#),
        );
    }
    let all = h.get("/Users").body;
    let ids: Vec<&str> = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let page = h.get("/Users?startIndex=2&count=2").body;
    assert_eq!(
        (
            page["totalResults"].as_u64(),
            page["startIndex"].as_u64(),
            page["itemsPerPage"].as_u64()
        ),
        (Some(5), Some(2), Some(2))
    );
    assert_eq!(page["Resources"][0]["id"], ids[1]);
    assert_eq!(page["Resources"][1]["id"], ids[2]);
    let count0 = h.get("/Users?count=0").body;
    assert_eq!(
        (
            count0["totalResults"].as_u64(),
            count0["itemsPerPage"].as_u64()
        ),
        (Some(5), Some(0))
    );
    let beyond = h.get("/Users?startIndex=9").body;
    assert_eq!(beyond["Resources"].as_array().unwrap().len(), 0);
}

fn count(h: &Harness, filter: &str) -> u64 {
    let q: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    let r = h.get(&format!("/Users?filter={q}"));
    assert_eq!(r.status, 200, "{filter}: {}", r.body);
    r.body["totalResults"].as_u64().unwrap()
}

fn filters_on_the_attributes_idps_query(h: Harness) {
    let ada = h
        .send(Method::POST, "/Users", r#"{"userName":"ada@x.test","externalId":"E-1","displayName":"Ada Lovelace","emails":[{"value":"ada@work.test","type":"work"}]}"#)
        .id();
    h.send(
        Method::POST,
        "/Users",
        r#"{"userName":"bob@x.test","displayName":"Bob Byte"}"#,
    );
    assert_eq!(count(&h, r#"userName eq "ADA@x.test""#), 1);
    assert_eq!(count(&h, r#"externalId eq "E-1""#), 1);
    assert_eq!(count(&h, r#"externalId eq "e-1""#), 0);
    assert_eq!(count(&h, r#"emails.value eq "ada@work.test""#), 1);
    assert_eq!(
        count(
            &h,
            r#"emails[type eq "work"]"#.replace(']', " and value sw \"ada\"]").as_str()
        ),
        1
    );
    assert_eq!(count(&h, r#"displayName co "byte""#), 1);
    assert_eq!(count(&h, r#"displayName sw "A""#), 1);
    assert_eq!(count(&h, &format!(r#"id eq "{ada}""#)), 1);
    assert_eq!(count(&h, "externalId pr"), 1);
    assert_eq!(count(&h, r#"userName sw "a" or userName sw "b""#), 2);
    assert_eq!(count(&h, r#"userName sw "a" and displayName co "bob""#), 0);
    assert_eq!(count(&h, r#"meta.resourceType eq "User""#), 2);
}

fn attributes_and_excluded_attributes(h: Harness) {
    let id = h.send(Method::POST, "/Users", r#"{"userName":"ada@x.test","displayName":"Ada","name":{"givenName":"Ada","familyName":"L"}}"#).id();
    let only = h
        .get(&format!(
            "/Users/{id}?attributes=displayName,name.givenName"
        ))
        .body;
    assert_eq!(only["displayName"], "Ada");
    assert_eq!(only["name"], serde_json::json!({"givenName": "Ada"}));
    assert!(only.get("userName").is_none() && only["id"] == id.as_str());
    let without = h
        .get(&format!("/Users/{id}?excludedAttributes=name,id"))
        .body;
    assert!(without.get("name").is_none());
    assert_eq!(without["id"], id.as_str(), "id is always returned");
}

fn discovery_endpoints(h: Harness) {
    let spc = h.get("/ServiceProviderConfig").body;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let rts = h.get("/ResourceTypes").body;
    assert_eq!(rts["totalResults"], 2);
    let user = h.get("/ResourceTypes/User").body;
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        scim_directory::ENTERPRISE_SCHEMA
    );
    let schemas = h.get("/Schemas").body;
    assert_eq!(schemas["totalResults"], 3);
    let group = h
        .get(&format!("/Schemas/{}", scim_directory::GROUP_SCHEMA))
        .body;
    assert_eq!(group["attributes"][0]["name"], "displayName");
    assert_eq!(
        group["attributes"][0]["uniqueness"], "server",
        "group names are unique"
    );
    let user = h
        .get(&format!("/Schemas/{}", scim_directory::USER_SCHEMA))
        .body;
    let uniqueness = |name: &str| {
        let attrs = user["attributes"].as_array().unwrap();
        let a = attrs.iter().find(|a| a["name"] == name).unwrap();
        a["uniqueness"].as_str().unwrap().to_string()
    };
    assert_eq!(uniqueness("userName"), "server");
    assert_eq!(uniqueness("displayName"), "none");
    assert_eq!(h.get("/Schemas/urn:nope").status, 404);
}

fn unknown_attributes_round_trip_and_map_to_custom_attributes(h: Harness) {
    let body = r#"{"userName":"ada@x.test","badgeNumber":"B-7",
        "urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"shoeSize":42}}"#;
    let r = h.send(Method::POST, "/Users", body);
    assert_eq!(r.body["badgeNumber"], "B-7");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:acme:2.0:User"]["shoeSize"],
        42
    );
    assert!(r.body["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "urn:ietf:params:scim:schemas:extension:acme:2.0:User"));
    let snap = common::run(h.snapshot());
    let u = &snap.users[0];
    assert_eq!(u.custom_attributes["badgeNumber"], "B-7");
    assert_eq!(
        u.custom_attributes["urn:ietf:params:scim:schemas:extension:acme:2.0:User:shoeSize"],
        42
    );
}

on_every_store!(sync: bearer_token_is_required_per_tenant_and_rotatable, errors_carry_scim_type, patch_errors_carry_scim_type, user_name_is_unique_case_insensitively_on_create_put_and_patch, paging_with_start_index_and_count, filters_on_the_attributes_idps_query, attributes_and_excluded_attributes, discovery_endpoints, unknown_attributes_round_trip_and_map_to_custom_attributes);
