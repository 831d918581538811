//! Tenant administration on every store: list, suspend and resume, rotate
//! with an overlap window on a clock the test moves, revoke, and delete
//! leaving no row behind (counted in every table of SQLite and
//! PostgreSQL). The SQLite file is created 0600 and an older database's
//! tenants keep their tokens.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::tenants::{administration, sqlite_rows, TestClock};
use scim_directory::{MemoryStore, ScimService, SqliteStore, Store, TenantStatus};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scim-directory-tenants-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn memory_store_administers_tenants() {
    let store = Arc::new(MemoryStore::new());
    administration(store.clone()).await;
    assert!(store.tenant("acme").await.unwrap().is_none());
    let log = store.events("acme", scim_directory::EventCursor::START, 10);
    assert!(log.await.unwrap().is_empty());
    let users = store.page("acme", scim_directory::ResourceType::User, None, 10);
    assert!(users.await.unwrap().is_empty());
    let groups = store.page("acme", scim_directory::ResourceType::Group, None, 10);
    assert!(groups.await.unwrap().is_empty());
    assert_eq!(
        store
            .events("globex", scim_directory::EventCursor::START, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn sqlite_store_administers_tenants_and_a_deleted_one_leaves_no_row() {
    let dir = temp_dir("admin");
    let path = dir.join("scim.sqlite");
    administration(Arc::new(SqliteStore::open(&path).unwrap())).await;
    assert_eq!(sqlite_rows(&path, "acme"), 0);
    // tenant + user + group + membership + 3 events: the count sees rows.
    assert_eq!(sqlite_rows(&path, "globex"), 7);
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn a_new_sqlite_file_is_private_and_an_existing_one_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let new = dir.join("new.sqlite");
    drop(SqliteStore::open(&new).unwrap());
    assert_eq!(mode(&new), 0o600);
    let wal = dir.join("new.sqlite-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    let existing = dir.join("existing.sqlite");
    std::fs::write(&existing, b"").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
    drop(SqliteStore::open(&existing).unwrap());
    assert_eq!(mode(&existing), 0o640);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_sqlite_database_from_before_tenant_administration_keeps_its_tokens() {
    let dir = temp_dir("upgrade");
    let path = dir.join("scim.sqlite");
    let clock = TestClock::new();
    let token = {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let service = common::tenants::service_on(store, &clock, "http://127.0.0.1");
        service.create_tenant("acme", "Acme").await.unwrap().token
    };
    // As version 1 left it: the tenants table of then, user_version 1.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE old (id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL,
             created TEXT NOT NULL, token_issued TEXT NOT NULL);
         INSERT INTO old SELECT id, name, token_hash, created, token_issued FROM tenants;
         DROP TABLE tenants; ALTER TABLE old RENAME TO tenants;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let service = common::tenants::service_on(store, &clock, "http://127.0.0.1");
    let (status, _) =
        common::tenants::call(&service, "GET", "acme", "/Users", token.expose_secret(), "").await;
    assert_eq!(status, 200);
    let info = service.tenants().await.unwrap();
    assert_eq!(info[0].status, TenantStatus::Active);
    service.revoke_tokens("acme").await.unwrap();
    assert!(!service.tenants().await.unwrap()[0].has_token);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn administering_a_missing_tenant_is_not_found() {
    let service = ScimService::new(Arc::new(MemoryStore::new()));
    let not_found = directory_core::ErrorKind::NotFound;
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(
        service.suspend_tenant("x").await.unwrap_err().kind(),
        not_found
    );
    assert_eq!(
        service.resume_tenant("x").await.unwrap_err().kind(),
        not_found
    );
    assert_eq!(
        service.revoke_tokens("x").await.unwrap_err().kind(),
        not_found
    );
    assert_eq!(
        service.rotate_token("x", hour).await.unwrap_err().kind(),
        not_found
    );
    assert_eq!(
        service.delete_tenant("x").await.unwrap_err().kind(),
        not_found
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_administers_tenants_and_a_deleted_one_leaves_no_row() {
    use common::pg::{drop_schema, fresh, rows_of};
    let Some((store, schema)) = fresh("postgres_store_administers_tenants").await else {
        return;
    };
    administration(Arc::new(store.clone())).await;
    assert_eq!(rows_of(&store, &schema, "acme").await, 0);
    // The seven rows the SQLite test counts, and globex's two counts
    // (users, groups) in `scim_counts`.
    assert_eq!(rows_of(&store, &schema, "globex").await, 9);
    drop_schema(&store, &schema).await;
}

/// Two services on one store, as two servers on one database: a token
/// revoked through one stops working on the other once the other's cached
/// record is older than its `tenant_cache_ttl`, and at once with a TTL of
/// zero. The service the change went through never answers from a stale
/// record.
#[tokio::test]
async fn a_change_made_by_another_server_is_seen_within_the_cache_ttl() {
    use common::tenants::call;
    use scim_directory::ServiceConfig;
    use std::time::Duration;

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let on = |ttl: Duration| {
        let config = ServiceConfig {
            tenant_cache_ttl: ttl,
            ..ServiceConfig::default()
        };
        ScimService::with_config(store.clone(), config)
    };
    let ttl = Duration::from_millis(600);
    let (admin, cached, uncached) = (on(ttl), on(ttl), on(Duration::ZERO));
    let token = admin.create_tenant("acme", "Acme").await.unwrap().token;
    let token = token.expose_secret();
    let filled = std::time::Instant::now();
    for s in [&admin, &cached, &uncached] {
        assert_eq!(call(s, "GET", "acme", "/Users", token, "").await.0, 200);
    }
    admin.revoke_tokens("acme").await.unwrap();
    assert_eq!(
        call(&admin, "GET", "acme", "/Users", token, "").await.0,
        401
    );
    assert_eq!(
        call(&uncached, "GET", "acme", "/Users", token, "").await.0,
        401
    );
    // The other server answers from its record within the TTL (checked
    // only while the record is surely younger: the machine may be slow)...
    let status = call(&cached, "GET", "acme", "/Users", token, "").await.0;
    if filled.elapsed() < ttl / 2 {
        assert_eq!(status, 200, "the record is kept for the TTL");
    }
    // ... and past it, reads the revocation.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert_eq!(
        call(&cached, "GET", "acme", "/Users", token, "").await.0,
        401
    );

    // A write through a stale record still finds no tenant once it is gone.
    let fresh = admin.rotate_token("acme", Duration::ZERO).await.unwrap();
    let fresh = fresh.expose_secret();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert_eq!(
        call(&cached, "GET", "acme", "/Users", fresh, "").await.0,
        200
    );
    admin.delete_tenant("acme").await.unwrap();
    let user =
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"late@acme.test"}"#;
    let (status, _) = call(&cached, "POST", "acme", "/Users", fresh, user).await;
    assert_eq!(status, 404, "a create for a deleted tenant writes nothing");
    assert!(store.tenant("acme").await.unwrap().is_none());
}
