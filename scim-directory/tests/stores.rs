//! The store contract (`common::contract`), run against the in-memory and
//! the SQLite store (`tests/postgres.rs` runs it against PostgreSQL), and
//! SQLite durability: nothing pushed is lost when the process restarts.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::contract::{
    conflict_is_not_a_backend_failure, contract, group, paging_is_stable_under_inserts,
    query_contract, register_tenants, service_queries,
};
use common::{kinds, Harness};
use directory_core::DirectoryProviderExt;
use http::Method;
use scim_directory::{
    Change, EventCursor, MemoryStore, ResourceType, ScimService, SqliteStore, Store, StoreError,
    StoredResource, Write,
};

#[tokio::test]
async fn memory_store_meets_the_contract() {
    contract(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    contract(&SqliteStore::in_memory().unwrap()).await;
}

#[tokio::test]
async fn memory_store_answers_queries_by_index() {
    let store = MemoryStore::new();
    query_contract(&store).await;
    paging_is_stable_under_inserts(&store).await;
    service_queries(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_answers_queries_by_index() {
    let store = SqliteStore::in_memory().unwrap();
    query_contract(&store).await;
    paging_is_stable_under_inserts(&store).await;
    service_queries(Arc::new(SqliteStore::in_memory().unwrap())).await;
}

fn temp_db(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("scim-directory-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("scim.sqlite")
}

#[tokio::test]
async fn sqlite_keeps_tenants_resources_and_events_across_restarts() {
    let path = temp_db("restart");
    let (token, before, events) = {
        let mut h = Harness::with_store(Arc::new(SqliteStore::open(&path).unwrap()));
        let u = h
            .send(
                Method::POST,
                "/Users",
                r#"{"userName":"ada@x.test","active":true}"#,
            )
            .id();
        let body = format!(r#"{{"displayName":"G","members":[{{"value":"{u}"}}]}}"#);
        h.send(Method::POST, "/Groups", &body);
        let events = h.new_changes();
        (h.token.clone(), h.snapshot().await, events)
    };
    let service = ScimService::new(Arc::new(SqliteStore::open(&path).unwrap()));
    let req = http::Request::get("/scim/v2/acme/Users")
        .header("authorization", format!("Bearer {token}"))
        .body(bytes::Bytes::new())
        .unwrap();
    assert_eq!(
        service.handle(req).await.status(),
        200,
        "the token survives a restart"
    );
    let after = service
        .directory("acme")
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    assert!(after.same_directory(&before));
    assert_eq!(after.users, before.users);
    let page = service
        .events("acme", EventCursor::START, 100)
        .await
        .unwrap();
    let logged: Vec<Change> = page.events.into_iter().map(|e| e.change).collect();
    assert_eq!(logged, events);
    assert_eq!(
        kinds(&logged),
        ["user_created", "group_created", "membership_added"]
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn sqlite_reports_a_taken_user_name_as_conflict_not_backend_failure() {
    conflict_is_not_a_backend_failure(&SqliteStore::in_memory().unwrap()).await;
}

#[tokio::test]
async fn memory_reports_a_taken_user_name_as_conflict_not_backend_failure() {
    conflict_is_not_a_backend_failure(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_indexes_groups_stored_by_an_older_version_on_open() {
    let path = temp_db("group-keys");
    {
        let store = SqliteStore::open(&path).unwrap();
        let g1 = StoredResource {
            body: serde_json::json!({"displayName": "Sales", "members": [{"value": "u1"}]}),
            ..group("g1", "Sales")
        };
        let groups = vec![Write::Put(g1), Write::Put(group("g2", "Support"))];
        register_tenants(&store).await;
        store.commit("t", groups, vec![]).await.unwrap();
    }
    // As an older version left them: no key, and two groups of one name.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE resources SET unique_key = NULL", [])
        .unwrap();
    conn.execute("DELETE FROM members", []).unwrap();
    conn.pragma_update(None, "user_version", 0).unwrap();
    conn.execute(
        "UPDATE resources SET body = '{\"displayName\":\"SALES\"}' WHERE id = 'g2'",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let found = store.find_by_key("t", ResourceType::Group, "sales").await;
    let found = found.unwrap().map(|g| g.id);
    assert!(found.is_some(), "one of the two keeps the name");
    let clash = store
        .commit("t", vec![Write::Put(group("g3", "sales"))], vec![])
        .await;
    assert_eq!(clash, Err(StoreError::Conflict("displayName".into())));
    let of_u1 = store.groups_with_member("t", "u1").await.unwrap();
    assert_eq!(of_u1.into_iter().map(|g| g.id).collect::<Vec<_>>(), ["g1"]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
