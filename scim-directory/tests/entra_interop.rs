//! What Microsoft's SCIM tutorial asks of an endpoint (issue 13): the
//! `emails[type eq "work"].value eq ".."` lookup, groups unique by
//! `displayName`, the bare `manager` path, 204 on group PATCH, and the token
//! checked before the body is read. Wire behaviour runs over the axum router
//! on a loopback socket.
#![cfg(feature = "axum")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Harness;
use http::Method;
use scim_directory::{MemoryStore, ScimService, ENTERPRISE_SCHEMA};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Server {
    addr: std::net::SocketAddr,
    endpoint: String,
    token: String,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        Self::with_body_limit(scim_directory::ServiceConfig::default().max_body_bytes).await
    }

    async fn with_body_limit(max_body_bytes: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = scim_directory::ServiceConfig {
            public_url: format!("http://{addr}"),
            max_body_bytes,
            ..Default::default()
        };
        let service = ScimService::with_config(Arc::new(MemoryStore::new()), config);
        let t = service.create_tenant("acme", "Acme").await.unwrap();
        let app = scim_directory::axum::router(service);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            endpoint: t.endpoint,
            token: t.token.expose_secret().to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.endpoint))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, body)
    }

    async fn create(&self, path: &str, body: Value) -> String {
        let (status, created) = self.send(Method::POST, path, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    async fn total(&self, filter: &str) -> u64 {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", filter)
            .finish();
        let (status, body) = self
            .send(Method::GET, &format!("/Users?{query}"), None)
            .await;
        assert_eq!(status, 200, "{filter}: {body}");
        body["totalResults"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn entra_matches_users_by_a_sub_attribute_after_a_value_filter() {
    let s = Server::start().await;
    let ada = json!({"userName": "ada", "emails": [
        {"type": "work", "value": "ada@contoso.com"}, {"type": "home", "value": "ada@home.test"}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}]});
    s.create("/Users", ada).await;
    s.create(
        "/Users",
        json!({"userName": "bob", "emails": [{"type": "work", "value": "bob@contoso.com"}]}),
    )
    .await;

    assert_eq!(
        s.total(r#"emails[type eq "work"].value eq "ADA@contoso.com""#)
            .await,
        1
    );
    assert_eq!(
        s.total(r#"emails[type eq "work"].value eq "ada@home.test""#)
            .await,
        0,
        "the home address is not a work address"
    );
    assert_eq!(
        s.total(r#"emails[type eq "work"].value ew "@contoso.com""#)
            .await,
        2
    );
    assert_eq!(
        s.total(r#"phoneNumbers[type eq "mobile"].value eq "+1 555 0100""#)
            .await,
        1
    );

    let search = json!({"filter": r#"emails[type eq "work"].value eq "bob@contoso.com""#});
    let (status, found) = s.send(Method::POST, "/Users/.search", Some(search)).await;
    assert_eq!(
        (status, found["totalResults"].as_u64()),
        (200, Some(1)),
        "{found}"
    );
    assert_eq!(found["Resources"][0]["userName"], "bob");
}

fn group_display_name_is_unique_case_insensitively(h: Harness) {
    let a = h.send(Method::POST, "/Groups", r#"{"displayName":"Sales"}"#);
    assert_eq!(a.status, 201);
    let b = h
        .send(Method::POST, "/Groups", r#"{"displayName":"Support"}"#)
        .id();
    let dup = h.send(Method::POST, "/Groups", r#"{"displayName":"SALES"}"#);
    assert_eq!(
        (dup.status.as_u16(), dup.body["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{}",
        dup.body
    );
    assert!(dup.body["detail"].as_str().unwrap().contains("displayName"));
    let put = h.send(
        Method::PUT,
        &format!("/Groups/{b}"),
        r#"{"displayName":"sales"}"#,
    );
    assert_eq!(
        (put.status.as_u16(), put.body["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    let rename = r#"{"Operations":[{"op":"Replace","path":"displayName","value":"Sales"}]}"#;
    let patch = h.send(Method::PATCH, &format!("/Groups/{b}"), rename);
    assert_eq!(
        (patch.status.as_u16(), patch.body["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    let pathless = r#"{"Operations":[{"op":"replace","value":{"id":"x","displayName":"sAles"}}]}"#;
    assert_eq!(
        h.send(Method::PATCH, &format!("/Groups/{b}"), pathless)
            .status,
        409
    );
    assert_eq!(
        h.get(&format!("/Groups/{b}")).body["displayName"],
        "Support"
    );

    let own = r#"{"Operations":[{"op":"replace","path":"displayName","value":"SUPPORT"}]}"#;
    assert_eq!(
        h.send(Method::PATCH, &format!("/Groups/{b}"), own).status,
        204
    );
    // A deleted group frees its name; a user may share a group's name.
    assert_eq!(
        h.send(Method::DELETE, &format!("/Groups/{}", a.id()), "")
            .status,
        204
    );
    assert_eq!(
        h.send(Method::POST, "/Groups", r#"{"displayName":"sales"}"#)
            .status,
        201
    );
    assert_eq!(
        h.send(Method::POST, "/Users", r#"{"userName":"Sales"}"#)
            .status,
        201
    );
    let groups = h.get("/Groups");
    assert_eq!(groups.body["totalResults"], 2, "{}", groups.body);
}

async fn the_bare_manager_path_sets_the_enterprise_manager(h: Harness) {
    let boss = h
        .send(Method::POST, "/Users", r#"{"userName":"boss"}"#)
        .id();
    let ada = h.send(Method::POST, "/Users", r#"{"userName":"ada"}"#).id();
    // As in Microsoft's tutorial.
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "manager",
            "value": [{"$ref": format!("../Users/{boss}"), "value": boss}]}]});
    let r = h.send(Method::PATCH, &format!("/Users/{ada}"), &add.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let user = h.get(&format!("/Users/{ada}")).body;
    assert_eq!(
        user[ENTERPRISE_SCHEMA]["manager"]["value"],
        boss.as_str(),
        "{user}"
    );
    assert!(
        user.get("manager").is_none(),
        "not a custom attribute: {user}"
    );
    let snapshot = h.snapshot().await;
    let model = snapshot.users.iter().find(|u| u.id == ada).unwrap();
    assert_eq!(
        model.manager.as_ref().and_then(|m| m.value.as_deref()),
        Some(boss.as_str())
    );
    assert!(model.custom_attributes.get("manager").is_none());

    let remove = r#"{"Operations":[{"op":"Remove","path":"manager"}]}"#;
    assert_eq!(
        h.send(Method::PATCH, &format!("/Users/{ada}"), remove)
            .status,
        200
    );
    let user = h.get(&format!("/Users/{ada}")).body;
    assert!(user[ENTERPRISE_SCHEMA].get("manager").is_none(), "{user}");
}

#[tokio::test]
async fn group_patch_answers_204_unless_the_client_asks_for_attributes() {
    let s = Server::start().await;
    let u = s.create("/Users", json!({"userName": "ada"})).await;
    let g = s.create("/Groups", json!({"displayName": "Sales"})).await;
    let add = json!({"Operations": [{"op": "Add", "path": "members", "value": [{"value": u}]}]});
    let (status, body) = s
        .send(Method::PATCH, &format!("/Groups/{g}"), Some(add.clone()))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (_, group) = s.send(Method::GET, &format!("/Groups/{g}"), None).await;
    assert_eq!(
        group["members"][0]["value"],
        u.as_str(),
        "the PATCH was applied"
    );

    let rename =
        json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Sales EU"}]});
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/Groups/{g}?attributes=displayName"),
            Some(rename),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["displayName"], "Sales EU");
    assert!(body.get("members").is_none(), "only what was asked: {body}");
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/Groups/{g}?excludedAttributes=members"),
            Some(add),
        )
        .await;
    assert_eq!((status, body.get("members")), (200, None), "{body}");

    let deactivate = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    let (status, user) = s
        .send(Method::PATCH, &format!("/Users/{u}"), Some(deactivate))
        .await;
    assert_eq!(
        (status, &user["active"]),
        (200, &json!(false)),
        "users still get 200 and the user"
    );
}

/// Sends a request head with a `Content-Length` far above what follows and
/// a few bytes of body, then waits for the answer without sending the rest.
async fn answer_to_a_trickled_body(s: &Server, token: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /scim/v2/acme/Users HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/scim+json\r\ncontent-length: 800000\r\n\r\n{{\"userName\":\"",
        s.addr
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The body never completes: an answer can only come from a server that
    // did not wait for it. The timeout only stops a broken server hanging
    // the test.
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(buf.get(..n).unwrap());
        }
    })
    .await;
    assert!(read.is_ok(), "no answer before the body was complete");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_bad_token_is_refused_before_the_body_is_read() {
    let s = Server::start().await;
    let answer = answer_to_a_trickled_body(&s, "wrong").await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("www-authenticate"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let s = Server::with_body_limit(1024).await;
    let answer = answer_to_a_trickled_body(&s, &s.token).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

on_every_store!(async: the_bare_manager_path_sets_the_enterprise_manager);
on_every_store!(sync: group_display_name_is_unique_case_insensitively);
