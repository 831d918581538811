//! Tenant administration, the same for every store: a service on a clock
//! the test moves, and how many rows a store still holds for a tenant.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use directory_core::ErrorKind;
use scim_directory::{Clock, ScimService, ServiceConfig, Store, TenantStatus};
use serde_json::Value;

/// A clock that stands still until the test moves it.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Utc::now())))
    }

    pub fn clock(&self) -> Clock {
        let t = self.0.clone();
        Clock::from_fn(move || *t.lock().unwrap())
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += chrono::Duration::from_std(by).unwrap();
    }
}

pub fn service_on(store: Arc<dyn Store>, clock: &TestClock, public_url: &str) -> ScimService {
    let config = ServiceConfig {
        public_url: public_url.into(),
        clock: clock.clock(),
        ..ServiceConfig::default()
    };
    ScimService::with_config(store, config)
}

/// Status and body of a request to `path` under the tenant's endpoint.
pub async fn call(
    service: &ScimService,
    method: &str,
    tenant: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/scim/v2/{tenant}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let resp = service.handle(req).await;
    let body = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status().as_u16(), body)
}

async fn users(service: &ScimService, tenant: &str, token: &str) -> (u16, Value) {
    call(service, "GET", tenant, "/Users", token, "").await
}

/// A user, a group holding it, and their events, in `tenant`.
pub async fn push_data(service: &ScimService, tenant: &str, token: &str) {
    let user = r#"{"userName":"ada@x.test","active":true}"#;
    let (status, body) = call(service, "POST", tenant, "/Users", token, user).await;
    assert_eq!(status, 201, "{body}");
    let group = format!(
        r#"{{"displayName":"Staff","members":[{{"value":"{}"}}]}}"#,
        body["id"].as_str().unwrap()
    );
    let (status, body) = call(service, "POST", tenant, "/Groups", token, &group).await;
    assert_eq!(status, 201, "{body}");
}

/// Create, list, suspend, resume, rotate with and without overlap, revoke
/// and delete, through a service on `store`. Leaves tenant `acme` deleted
/// and `globex` with data, for the caller to count rows.
pub async fn administration(store: Arc<dyn Store>) {
    let clock = TestClock::new();
    let service = service_on(store, &clock, "http://127.0.0.1");
    let acme = service.create_tenant("acme", "Acme").await.unwrap();
    let globex = service.create_tenant("globex", "Globex").await.unwrap();
    let (acme_token, globex_token) = (
        acme.token.expose_secret().to_string(),
        globex.token.expose_secret().to_string(),
    );
    push_data(&service, "acme", &acme_token).await;
    push_data(&service, "globex", &globex_token).await;

    let listed = service.tenants().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["acme", "globex"]);
    assert!(listed
        .iter()
        .all(|t| t.status == TenantStatus::Active && t.has_token));
    assert_eq!(listed[0].name, "Acme");

    suspension(&service, &acme_token, &globex_token).await;
    rotation(&service, &clock, &acme_token).await;
    let current = revocation(&service).await;

    service.delete_tenant("acme").await.unwrap();
    assert_eq!(users(&service, "acme", &current).await.0, 401);
    let gone = service.tenant("acme").await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert_eq!(
        service.directory("acme").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let again = service.delete_tenant("acme").await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);
    let ids: Vec<_> = service
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["globex"]);
    let (status, body) = users(&service, "globex", &globex_token).await;
    assert_eq!(
        (status, body["totalResults"].as_u64()),
        (200, Some(1)),
        "globex untouched"
    );
    // A new tenant of the deleted id starts empty, its log too.
    let reborn = service.create_tenant("acme", "Acme again").await.unwrap();
    let (status, body) = users(&service, "acme", reborn.token.expose_secret()).await;
    assert_eq!((status, body["totalResults"].as_u64()), (200, Some(0)));
    let log = service.events("acme", scim_directory::EventCursor::START, 10);
    assert!(log.await.unwrap().events.is_empty());
    // The deleted tenant's userName and group name are free again.
    push_data(&service, "acme", reborn.token.expose_secret()).await;
    service.delete_tenant("acme").await.unwrap();
}

/// A suspended tenant answers 401 to its own token (saying so) and to a
/// wrong one (not saying so); other tenants carry on; resume restores it.
async fn suspension(service: &ScimService, acme: &str, globex: &str) {
    service.suspend_tenant("acme").await.unwrap();
    let (status, body) = users(service, "acme", acme).await;
    assert_eq!(status, 401);
    assert_eq!(body["schemas"][0], scim_directory::ERROR_SCHEMA);
    assert!(
        body["detail"].as_str().unwrap().contains("suspended"),
        "{body}"
    );
    let write = call(
        service,
        "POST",
        "acme",
        "/Users",
        acme,
        r#"{"userName":"b@x.test"}"#,
    );
    assert_eq!(write.await.0, 401);
    let (status, body) = users(service, "acme", "wrong-token").await;
    assert_eq!(status, 401);
    assert!(
        !body["detail"].as_str().unwrap().contains("suspended"),
        "{body}"
    );
    assert_eq!(users(service, "globex", globex).await.0, 200);
    let info = service.tenants().await.unwrap();
    assert_eq!(info[0].status, TenantStatus::Suspended);
    assert_eq!(info[1].status, TenantStatus::Active);

    service.resume_tenant("acme").await.unwrap();
    assert_eq!(users(service, "acme", acme).await.0, 200);
    assert_eq!(
        service.tenants().await.unwrap()[0].status,
        TenantStatus::Active
    );
}

/// The old token works until the end of the overlap window, then not.
async fn rotation(service: &ScimService, clock: &TestClock, old: &str) {
    let hour = Duration::from_secs(3600);
    let new = service.rotate_token("acme", hour).await.unwrap();
    let new = new.expose_secret().to_string();
    assert_eq!(users(service, "acme", old).await.0, 200, "in the overlap");
    assert_eq!(users(service, "acme", &new).await.0, 200);
    let info = &service.tenants().await.unwrap()[0];
    assert!(info.previous_token_expires.is_some());
    clock.advance(hour - Duration::from_secs(1));
    assert_eq!(
        users(service, "acme", old).await.0,
        200,
        "a second before the end"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(users(service, "acme", old).await.0, 401, "at the end");
    assert_eq!(users(service, "acme", &new).await.0, 200);

    // Without overlap the replaced token stops at once, and a token from
    // before the last rotation never comes back.
    let newer = service.rotate_token("acme", Duration::ZERO).await.unwrap();
    assert_eq!(users(service, "acme", &new).await.0, 401);
    assert_eq!(users(service, "acme", newer.expose_secret()).await.0, 200);
    let a = service.rotate_token("acme", hour).await.unwrap();
    let _b = service.rotate_token("acme", hour).await.unwrap();
    assert_eq!(users(service, "acme", newer.expose_secret()).await.0, 401);
    assert_eq!(users(service, "acme", a.expose_secret()).await.0, 200);
}

/// Revoke stops every token at once, the overlapping one too; a rotation
/// issues a working one. Returns it.
async fn revocation(service: &ScimService) -> String {
    let hour = Duration::from_secs(3600);
    let old = service.rotate_token("acme", hour).await.unwrap();
    let new = service.rotate_token("acme", hour).await.unwrap();
    service.revoke_tokens("acme").await.unwrap();
    for t in [&old, &new] {
        assert_eq!(users(service, "acme", t.expose_secret()).await.0, 401);
    }
    let info = &service.tenants().await.unwrap()[0];
    assert!(!info.has_token);
    let fresh = service.rotate_token("acme", hour).await.unwrap();
    assert_eq!(users(service, "acme", fresh.expose_secret()).await.0, 200);
    assert_eq!(users(service, "acme", new.expose_secret()).await.0, 401);
    assert!(service.tenants().await.unwrap()[0].has_token);
    fresh.expose_secret().to_string()
}

/// Rows the SQLite database at `path` holds for `tenant`, over every table
/// with a `tenant` column and the tenants table itself.
#[cfg(feature = "sqlite")]
pub fn sqlite_rows(path: &std::path::Path, tenant: &str) -> usize {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut counted = 0;
    let mut rows = 0;
    for table in tables {
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let column = match () {
            _ if table == "tenants" => "id",
            _ if cols.iter().any(|c| c == "tenant") => "tenant",
            _ => continue,
        };
        let sql = format!("SELECT count(*) FROM {table} WHERE {column} = ?1");
        rows += conn
            .query_row(&sql, [tenant], |r| r.get::<_, i64>(0))
            .unwrap() as usize;
        counted += 1;
    }
    assert!(
        counted >= 4,
        "tenants, resources, members and events were counted"
    );
    rows
}
