//! The axum router over a real loopback socket.
#![cfg(feature = "axum")]

use std::sync::Arc;

use scim_directory::{MemoryStore, ScimService, ServiceConfig};
use serde_json::Value;

async fn serve(config: ServiceConfig) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServiceConfig {
        public_url: format!("http://{addr}"),
        ..config
    };
    let service = ScimService::with_config(Arc::new(MemoryStore::new()), config);
    let t = service.create_tenant("acme", "Acme").await.unwrap();
    tokio::spawn(async move { axum::serve(listener, scim_directory::axum::router(service)).await });
    (t.endpoint, t.token.expose_secret().to_string())
}

#[tokio::test]
async fn serves_scim_over_http() {
    let (endpoint, token) = serve(ServiceConfig::default()).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{endpoint}/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"userName":"ada@x.test"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["content-type"], "application/scim+json");
    let body: Value = created.json().await.unwrap();
    let location = body["meta"]["location"].as_str().unwrap().to_string();
    assert!(location.starts_with(&endpoint));
    let fetched = http
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);

    let denied = http
        .get(format!("{endpoint}/Users"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let err: Value = denied.json().await.unwrap();
    assert_eq!(err["schemas"][0], scim_directory::ERROR_SCHEMA);
}

#[tokio::test]
async fn oversized_body_is_a_scim_413() {
    let (endpoint, token) = serve(ServiceConfig {
        max_body_bytes: 1024,
        ..ServiceConfig::default()
    })
    .await;
    let body = format!(r#"{{"userName":"{}"}}"#, "a".repeat(4096));
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/Users"))
        .bearer_auth(&token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["status"], "413");
}
