//! Tenant administration seen over real loopback sockets: a rotated token
//! works during its overlap window and not after (a clock the test moves),
//! a suspended tenant answers 401, and a deleted tenant leaves no row in
//! the SQLite file (and in PostgreSQL with `DATABASE_URL`).
#![cfg(feature = "axum")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::tenants::{push_data, service_on, sqlite_rows, TestClock};
use scim_directory::axum::RouterConfig;
use scim_directory::{MemoryStore, ScimService, SqliteStore, Store};
use serde_json::Value;

/// Serves a service on `store` on a free port; the service and its origin.
async fn serve(store: Arc<dyn Store>, clock: &TestClock) -> ScimService {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let service = service_on(store, clock, &url);
    tokio::spawn(scim_directory::axum::serve(
        listener,
        service.clone(),
        RouterConfig::default(),
    ));
    service
}

async fn get_users(service: &ScimService, tenant: &str, token: &str) -> (u16, Value) {
    let url = format!("{}/Users", service.endpoint(tenant));
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_rotated_token_works_during_its_overlap_and_not_after() {
    let clock = TestClock::new();
    let service = serve(Arc::new(MemoryStore::new()), &clock).await;
    let old = service.create_tenant("acme", "Acme").await.unwrap().token;
    let overlap = Duration::from_secs(30 * 60);
    let new = service.rotate_token("acme", overlap).await.unwrap();
    assert_eq!(
        get_users(&service, "acme", old.expose_secret()).await.0,
        200
    );
    clock.advance(overlap - Duration::from_secs(1));
    assert_eq!(
        get_users(&service, "acme", old.expose_secret()).await.0,
        200
    );
    clock.advance(Duration::from_secs(1));
    let (status, body) = get_users(&service, "acme", old.expose_secret()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["schemas"][0], scim_directory::ERROR_SCHEMA);
    assert_eq!(
        get_users(&service, "acme", new.expose_secret()).await.0,
        200
    );
}

#[tokio::test]
async fn a_suspended_tenant_answers_401_until_resumed() {
    let clock = TestClock::new();
    let service = serve(Arc::new(MemoryStore::new()), &clock).await;
    let token = service.create_tenant("acme", "Acme").await.unwrap().token;
    service.suspend_tenant("acme").await.unwrap();
    let (status, body) = get_users(&service, "acme", token.expose_secret()).await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], "401");
    assert!(
        body["detail"].as_str().unwrap().contains("suspended"),
        "{body}"
    );
    service.resume_tenant("acme").await.unwrap();
    assert_eq!(
        get_users(&service, "acme", token.expose_secret()).await.0,
        200
    );
}

#[tokio::test]
async fn a_deleted_tenant_leaves_no_row_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("scim-axum-tenants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scim.sqlite");
    let clock = TestClock::new();
    let service = serve(Arc::new(SqliteStore::open(&path).unwrap()), &clock).await;
    delete_over_http(&service).await;
    assert_eq!(sqlite_rows(&path, "acme"), 0);
    assert!(sqlite_rows(&path, "globex") > 0);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two tenants fill their directories over HTTP; `acme` is deleted and
/// answers 401 after.
async fn delete_over_http(service: &ScimService) {
    for id in ["acme", "globex"] {
        let token = service.create_tenant(id, id).await.unwrap().token;
        push_over_http(service, id, token.expose_secret()).await;
        // And through the service directly: the same rows either way.
        push_data(service, id, token.expose_secret()).await;
        if id == "acme" {
            service.delete_tenant("acme").await.unwrap();
            assert_eq!(
                get_users(service, "acme", token.expose_secret()).await.0,
                401
            );
        }
    }
}

async fn push_over_http(service: &ScimService, tenant: &str, token: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{}/Users", service.endpoint(tenant)))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(r#"{"userName":"grace@x.test"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_tenant_leaves_no_row_in_postgres() {
    use common::pg::{drop_schema, fresh, rows_of};
    let Some((store, schema)) = fresh("a_deleted_tenant_leaves_no_row_in_postgres").await else {
        return;
    };
    let service = serve(Arc::new(store.clone()), &TestClock::new()).await;
    delete_over_http(&service).await;
    assert_eq!(rows_of(&store, &schema, "acme").await, 0);
    assert!(rows_of(&store, &schema, "globex").await > 0);
    drop_schema(&store, &schema).await;
}
