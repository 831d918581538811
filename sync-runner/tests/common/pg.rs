//! A PostgreSQL database of the test run's own on the server in
//! `DATABASE_URL`, dropped at the end (with any session a killed worker
//! left behind), also when the test fails, so runs go in parallel and twice
//! in a row. Without `DATABASE_URL` the test says it was skipped and why.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sync_runner::PgStore;

/// A database made for one test run; dropped with it.
pub struct TestDb {
    server: PgConnectOptions,
    /// The database's name.
    pub name: String,
    /// Options that connect to it.
    pub options: PgConnectOptions,
}

/// A fresh database, or `None` (after saying why) without a server.
pub async fn fresh_database(test: &str) -> Option<TestDb> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "skipped {test}: DATABASE_URL is not set; start PostgreSQL and set it, e.g. \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (see README.md)"
        );
        return None;
    };
    let server = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("DATABASE_URL is not a PostgreSQL URL: {e}"));
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(server.clone())
        .await
        .unwrap_or_else(|e| panic!("DATABASE_URL is set but PostgreSQL is unreachable: {e}"));
    let name = format!("sync_runner_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let options = server.clone().database(&name);
    Some(TestDb {
        server,
        name,
        options,
    })
}

impl TestDb {
    /// A store on the database's default schema.
    pub async fn store(&self) -> PgStore {
        PgStore::connect_with(
            self.options.clone(),
            PgPoolOptions::new().max_connections(8),
        )
        .await
        .unwrap()
    }

    /// A store on a fresh schema `schema` of the database (empty tables).
    pub async fn store_in_schema(&self, schema: &str) -> PgStore {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await
            .unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let options = self.options.clone().options([("search_path", schema)]);
        let store = PgStore::connect_with(options, PgPoolOptions::new().max_connections(8))
            .await
            .unwrap();
        // Open every pooled connection now, so calls made at once run at
        // once rather than each waiting for a connection to be set up.
        let warm = futures::future::join_all((0..8).map(|_| store.pool().acquire())).await;
        assert!(warm.iter().all(Result::is_ok), "{warm:?}");
        drop(warm);
        store
    }

    /// Drops the database, ending any session still on it.
    pub async fn drop_database(self) {
        drop(self);
    }
}

impl Drop for TestDb {
    /// Drops the database from a thread of its own (a panicking test has
    /// no async context left to do it in).
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(server)
                    .await?;
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
