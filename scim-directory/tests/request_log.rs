//! The router's request log: one event per request, never a token or body.
#![cfg(feature = "axum")]

use std::sync::Arc;

use directory_core::testing::CapturedLogs;
use scim_directory::{MemoryStore, ScimService, ServiceConfig};

#[tokio::test]
async fn each_request_is_logged_without_token_body_or_query() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServiceConfig {
        public_url: format!("http://{addr}"),
        ..ServiceConfig::default()
    };
    let service = ScimService::with_config(Arc::new(MemoryStore::new()), config);
    let t = service.create_tenant("acme", "Acme").await.unwrap();
    let token = t.token.expose_secret().to_string();
    let router_config = scim_directory::axum::RouterConfig::default();
    tokio::spawn(scim_directory::axum::serve(
        listener,
        service,
        router_config,
    ));

    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/Users", t.endpoint))
        .bearer_auth(&token)
        .body(r#"{"userName":"secret-body-marker@x.test"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let filtered = http
        .get(format!("{}/Users", t.endpoint))
        .query(&[("filter", r#"userName eq "query-marker@x.test""#)])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.status(), 200);
    let denied = http
        .get(format!("{}/Groups", t.endpoint))
        .bearer_auth("wrong-token-marker")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);

    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("SCIM request"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let post = lines[0];
    for field in [
        "tenant=\"acme\"",
        "method=POST",
        "path=/scim/v2/acme/Users",
        "status=201",
        "latency_ms=",
    ] {
        assert!(post.contains(field), "{field} missing from {post}");
    }
    assert!(
        lines[2].contains("status=401") && lines[2].contains("tenant=\"\""),
        "{}",
        lines[2]
    );
    for secret in [
        token.as_str(),
        "wrong-token-marker",
        "secret-body-marker",
        "query-marker",
    ] {
        assert!(!text.contains(secret), "{secret} is in the logs:\n{text}");
    }
}
