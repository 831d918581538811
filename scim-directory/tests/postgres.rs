//! The PostgreSQL store (feature `postgres`): the store contract, migrations
//! applied once, and, with several server processes on one database at
//! once, uniqueness held by the database and no lost member update.
//!
//! The server comes from `DATABASE_URL` (`.ci/run` sets it and fails when
//! the server is unreachable). Each test makes a schema of its own and drops
//! it, so the tests run in parallel and twice in a row. Without
//! `DATABASE_URL` each test prints that it was skipped and why, and passes.
#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::contract::{
    conflict_is_not_a_backend_failure, contract, paging_is_stable_under_inserts, query_contract,
    service_queries,
};
use common::pg::{drop_schema, fresh};
use scim_directory::{EventCursor, PgStore, ScimService, Store};

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    let Some((store, schema)) = fresh("postgres_store_meets_the_contract").await else {
        return;
    };
    contract(&store).await;
    conflict_is_not_a_backend_failure(&store).await;
    drop_schema(&store, &schema).await;
}

#[tokio::test]
async fn postgres_store_answers_queries_by_index() {
    let Some((store, schema)) = fresh("postgres_store_answers_queries_by_index").await else {
        return;
    };
    query_contract(&store).await;
    paging_is_stable_under_inserts(&store).await;
    drop_schema(&store, &schema).await;
    let Some((store, schema)) = fresh("postgres_store_answers_queries_by_index").await else {
        return;
    };
    service_queries(Arc::new(store.clone())).await;
    drop_schema(&store, &schema).await;
}

#[tokio::test]
async fn migrations_apply_once_and_a_reconnect_keeps_everything() {
    let Some((store, schema)) = fresh("migrations_apply_once").await else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    let service = ScimService::new(Arc::new(store.clone()));
    let token = service.create_tenant("acme", "Acme").await.unwrap().token;
    // Two more processes start at once on the same schema.
    let (a, b) = tokio::join!(
        PgStore::connect_in_schema(&url, &schema),
        PgStore::connect_in_schema(&url, &schema)
    );
    let (a, _b) = (a.unwrap(), b.unwrap());
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM scim_migrations")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    let tenant = a.tenant("acme").await.unwrap().unwrap();
    assert!(tenant.token_matches(token.expose_secret(), chrono::Utc::now()));
    drop_schema(&store, &schema).await;
}

/// A database of release 4's schema, holding users and groups, gets the
/// counts of what it holds when migration 5 applies; from then on the
/// triggers keep them.
#[tokio::test]
async fn the_counts_migration_counts_what_an_older_schema_holds() {
    let Some((store, schema)) = fresh("counts_migration").await else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    let service = ScimService::new(Arc::new(store.clone()));
    let token = service.create_tenant("acme", "Acme").await.unwrap().token;
    let token = token.expose_secret().to_string();
    for i in 0..7 {
        let (status, _) = send(&service, post_user(&format!("u{i}@x.test"), &token)).await;
        assert_eq!(status, 201);
    }
    // Back to release 4: no counts, no triggers, no migration 5.
    sqlx::raw_sql(
        "DROP TABLE scim_counts; \
         DROP TRIGGER scim_resources_count_inserted ON scim_resources; \
         DROP TRIGGER scim_resources_count_deleted ON scim_resources; \
         DROP FUNCTION scim_count_inserted(); DROP FUNCTION scim_count_deleted(); \
         DELETE FROM scim_migrations WHERE version = 5;",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let upgraded = PgStore::connect_in_schema(&url, &schema).await.unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT n FROM scim_counts WHERE tenant = 'acme' AND kind = 'User'")
            .fetch_one(upgraded.pool())
            .await
            .unwrap();
    assert_eq!(n, 7);
    let service = ScimService::new(Arc::new(upgraded.clone()));
    let (status, _) = send(&service, post_user("u7@x.test", &token)).await;
    assert_eq!(status, 201);
    let (status, page) = send(
        &service,
        request(http::Method::GET, "/Users?count=1", &token, String::new()),
    )
    .await;
    assert_eq!((status, page["totalResults"].as_u64()), (200, Some(8)));
    drop_schema(&store, &schema).await;
}

fn post_user(name: &str, token: &str) -> http::Request<Bytes> {
    http::Request::post("/scim/v2/acme/Users")
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(format!(r#"{{"userName":"{name}"}}"#)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_user_name_across_processes_make_exactly_one_user() {
    let Some((store, schema)) = fresh("concurrent_creates").await else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    let first = ScimService::new(Arc::new(store.clone()));
    let token = first.create_tenant("acme", "Acme").await.unwrap().token;
    let token = token.expose_secret().to_string();
    // Four "processes": each its own service (own write lock) and own pool.
    let mut services = vec![first];
    for _ in 0..3 {
        let s = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        services.push(ScimService::new(Arc::new(s)));
    }
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let service = services[i % services.len()].clone();
            let name = ["Same@x.test", "same@X.TEST", "SAME@x.test"][i % 3];
            let req = post_user(name, &token);
            tokio::spawn(async move { service.handle(req).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [201, 409, 409, 409, 409, 409, 409, 409, 409, 409, 409, 409]
    );
    let users = store.page("acme", scim_directory::ResourceType::User, None, 10);
    assert_eq!(users.await.unwrap().len(), 1);
    let events = store.events("acme", EventCursor::START, 100).await.unwrap();
    assert_eq!(
        events.len(),
        1,
        "one user_created, nothing from the refused"
    );
    drop_schema(&store, &schema).await;
}

fn request(method: http::Method, path: &str, token: &str, body: String) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(format!("/scim/v2/acme{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(body))
        .unwrap()
}

async fn send(service: &ScimService, req: http::Request<Bytes>) -> (u16, serde_json::Value) {
    let resp = service.handle(req).await;
    let body = serde_json::from_slice(resp.body()).unwrap_or_default();
    (resp.status().as_u16(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_patches_across_processes_lose_no_update() {
    let Some((store, schema)) = fresh("concurrent_member_patches").await else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    let first = ScimService::new(Arc::new(store.clone()));
    let token = first.create_tenant("acme", "Acme").await.unwrap().token;
    let token = token.expose_secret().to_string();
    let mut users = Vec::new();
    for i in 0..12 {
        let body = format!(r#"{{"userName":"u{i}@x.test"}}"#);
        let (status, u) = send(&first, request(http::Method::POST, "/Users", &token, body)).await;
        assert_eq!(status, 201);
        users.push(u["id"].as_str().unwrap().to_string());
    }
    let body = r#"{"displayName":"Everyone"}"#.to_string();
    let (_, g) = send(&first, request(http::Method::POST, "/Groups", &token, body)).await;
    let group = format!("/Groups/{}", g["id"].as_str().unwrap());
    let mut services = vec![first];
    for _ in 0..3 {
        let s = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        services.push(ScimService::new(Arc::new(s)));
    }
    // Each "process" adds its users to the one group at the same time.
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let service = services[i % services.len()].clone();
            let add = format!(
                r#"{{"Operations":[{{"op":"add","path":"members","value":[{{"value":"{u}"}}]}}]}}"#
            );
            let req = request(http::Method::PATCH, &group, &token, add);
            tokio::spawn(async move { service.handle(req).await.status().as_u16() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let (_, g) = send(
        &services[0],
        request(http::Method::GET, &group, &token, String::new()),
    )
    .await;
    let mut members: Vec<String> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    users.sort();
    assert_eq!(members, users, "every concurrent add is kept");
    let events = store.events("acme", EventCursor::START, 100).await.unwrap();
    let added = events
        .iter()
        .filter(|e| matches!(e.change, scim_directory::Change::MembershipAdded { .. }))
        .count();
    assert_eq!(added, 12);
    drop_schema(&store, &schema).await;
}

/// Okta's import pages `GET /Users?startIndex=..&count=..` while another
/// server process creates users: every user that existed before the
/// import is read exactly once, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_paging_is_stable_while_another_process_creates_users() {
    let Some((store, schema)) = fresh("import_paging_is_stable").await else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    let reader = ScimService::new(Arc::new(store.clone()));
    let token = reader.create_tenant("acme", "Acme").await.unwrap().token;
    let token = token.expose_secret().to_string();
    let mut seeded = Vec::new();
    for i in 0..300 {
        let (status, u) = send(&reader, post_user(&format!("seed{i}@x.test"), &token)).await;
        assert_eq!(status, 201);
        seeded.push(u["id"].as_str().unwrap().to_string());
    }
    let writer = ScimService::new(Arc::new(
        PgStore::connect_in_schema(&url, &schema).await.unwrap(),
    ));
    let writer_token = token.clone();
    let creating = tokio::spawn(async move {
        for i in 0..150 {
            let (status, _) =
                send(&writer, post_user(&format!("new{i}@x.test"), &writer_token)).await;
            assert_eq!(status, 201);
            tokio::task::yield_now().await;
        }
    });
    let mut read = Vec::new();
    let mut start = 1;
    loop {
        let path = format!("/Users?startIndex={start}&count=40");
        let (status, page) = send(
            &reader,
            request(http::Method::GET, &path, &token, String::new()),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let found = page["Resources"].as_array().unwrap();
        if found.is_empty() {
            break;
        }
        start += found.len();
        read.extend(found.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        tokio::task::yield_now().await;
    }
    creating.await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for id in &read {
        assert!(seen.insert(id), "{id} read twice");
    }
    for id in &seeded {
        assert!(seen.contains(id), "{id} skipped");
    }
    drop_schema(&store, &schema).await;
}
