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
