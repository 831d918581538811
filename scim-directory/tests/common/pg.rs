//! A PostgreSQL store for a test: a schema of its own on the server in
//! `DATABASE_URL`, dropped at the end, so tests run in parallel and twice in
//! a row. Without `DATABASE_URL` the test says it was skipped and why.

use scim_directory::PgStore;

/// A store in a fresh schema, or `None` (after saying why) without a server.
pub async fn fresh(test: &str) -> Option<(PgStore, String)> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "skipped {test}: DATABASE_URL is not set; start PostgreSQL and set it \
             (see scim-directory/README.md)"
        );
        return None;
    };
    let schema = format!("scim_test_{}", uuid::Uuid::new_v4().simple());
    let store = PgStore::connect_in_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("DATABASE_URL is set but PostgreSQL is unreachable: {e}"));
    Some((store, schema))
}

/// Drops the test's schema and everything in it.
pub async fn drop_schema(store: &PgStore, schema: &str) {
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(store.pool())
        .await
        .unwrap();
}

/// Rows the test's schema holds for `tenant`, over every table with a
/// `tenant` column and `scim_tenants` itself.
pub async fn rows_of(store: &PgStore, schema: &str, tenant: &str) -> usize {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND column_name = 'tenant' ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(
        tables.len() >= 3,
        "resources, members and events: {tables:?}"
    );
    let mut rows: i64 = sqlx::query_scalar("SELECT count(*) FROM scim_tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(store.pool())
        .await
        .unwrap();
    for table in tables {
        let sql = format!("SELECT count(*) FROM {table} WHERE tenant = $1");
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(tenant)
            .fetch_one(store.pool())
            .await
            .unwrap();
        rows += n;
    }
    rows as usize
}
