//! The store contract, run against the in-memory and the SQLite store, and
//! SQLite durability: nothing pushed is lost when the process restarts.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use common::{kinds, Harness};
use directory_core::DirectoryProviderExt;
use http::Method;
use scim_directory::{
    Change, EventCursor, MemoryStore, ResourceType, ScimService, SqliteStore, Store, StoreError,
    StoredResource, Write,
};
use serde_json::json;

fn user(id: &str, name: &str) -> StoredResource {
    let now = Utc::now();
    StoredResource {
        resource_type: ResourceType::User,
        id: id.into(),
        body: json!({"userName": name}),
        created: now,
        last_modified: now,
        version: 1,
    }
}

fn group(id: &str, name: &str) -> StoredResource {
    StoredResource {
        resource_type: ResourceType::Group,
        body: json!({"displayName": name}),
        ..user(id, "")
    }
}

fn created(id: &str) -> Change {
    Change::UserDeleted { user_id: id.into() }
}

async fn contract(store: &dyn Store) {
    for id in ["c", "a", "b", "d"] {
        store
            .commit(
                "t1",
                vec![Write::Put(user(id, &format!("{id}@x.test")))],
                vec![created(id)],
            )
            .await
            .unwrap();
    }
    store
        .commit(
            "t2",
            vec![Write::Put(user("a", "a@x.test"))],
            vec![created("t2a")],
        )
        .await
        .unwrap();

    let ids = |v: Vec<StoredResource>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.page("t1", ResourceType::User, None, 3).await.unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        ids(store
            .page("t1", ResourceType::User, Some("c"), 3)
            .await
            .unwrap()),
        ["d"]
    );
    assert!(store
        .page("t1", ResourceType::Group, None, 3)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(store
            .page("t2", ResourceType::User, None, 10)
            .await
            .unwrap()),
        ["a"]
    );

    // userName is unique per tenant, case-insensitively; a failed commit
    // writes nothing and logs nothing.
    let clash = store
        .commit(
            "t1",
            vec![Write::Put(user("e", "A@X.TEST"))],
            vec![created("e")],
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(store
        .get("t1", ResourceType::User, "e")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .find_by_key("t1", ResourceType::User, "a@x.test")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("a".into())
    );
    // Renaming a user frees its old name.
    store
        .commit("t1", vec![Write::Put(user("a", "z@x.test"))], vec![])
        .await
        .unwrap();
    store
        .commit("t1", vec![Write::Put(user("e", "a@x.test"))], vec![])
        .await
        .unwrap();
    store
        .commit(
            "t1",
            vec![Write::Delete(ResourceType::User, "e".into())],
            vec![],
        )
        .await
        .unwrap();
    assert!(store
        .find_by_key("t1", ResourceType::User, "a@x.test")
        .await
        .unwrap()
        .is_none());

    // So is a group's displayName, apart from userNames.
    store
        .commit("t1", vec![Write::Put(group("g1", "Sales"))], vec![])
        .await
        .unwrap();
    let clash = store
        .commit("t1", vec![Write::Put(group("g2", "SALES"))], vec![])
        .await;
    assert_eq!(clash, Err(StoreError::Conflict("displayName".into())));
    store
        .commit("t1", vec![Write::Put(group("g1", "Sales EU"))], vec![])
        .await
        .unwrap();
    store
        .commit("t1", vec![Write::Put(group("g2", "sales"))], vec![])
        .await
        .unwrap();
    store
        .commit("t1", vec![Write::Put(user("s", "sales eu"))], vec![])
        .await
        .unwrap();
    assert_eq!(
        store
            .find_by_key("t1", ResourceType::Group, "sales eu")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("g1".into())
    );

    let events = store.events("t1", EventCursor::START, 100).await.unwrap();
    assert_eq!(
        events.len(),
        4,
        "t2's events and the failed commit are not in t1's log"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let after = store
        .events("t1", EventCursor(events[1].seq), 1)
        .await
        .unwrap();
    assert_eq!(after[0].seq, events[2].seq);
}

#[tokio::test]
async fn memory_store_meets_the_contract() {
    contract(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    contract(&SqliteStore::in_memory().unwrap()).await;
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
    let store = SqliteStore::in_memory().unwrap();
    store
        .commit("t", vec![Write::Put(user("a", "x@y.z"))], vec![])
        .await
        .unwrap();
    let err = store
        .commit("t", vec![Write::Put(user("b", "X@Y.Z"))], vec![])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict("userName".into()));
}
