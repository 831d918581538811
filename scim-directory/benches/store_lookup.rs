//! `userName eq` lookups, 200-user import pages and creates through the
//! SCIM service (`ScimService::handle`, not HTTP) on the memory, SQLite and
//! (feature `postgres`, with `DATABASE_URL`) PostgreSQL stores, at 1,000
//! and 100,000 users in one tenant. Prints a Markdown table, each figure
//! beside its goal.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p scim-directory --features postgres --bench store_lookup
//! ```
//!
//! `BENCH_SIZES=1000` runs the small tenant only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use rand::{Rng, SeedableRng};
use scim_directory::{
    MemoryStore, ResourceType, ScimService, SqliteStore, Store, StoredResource, Write,
};
use serde_json::json;

const LOOKUPS: usize = 2000;
const PAGES: usize = 100;
const CREATES: usize = 500;

struct Row {
    store: &'static str,
    users: usize,
    figure: &'static str,
    measured: String,
    goal: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn user(i: usize) -> StoredResource {
    let now = Utc::now();
    StoredResource {
        resource_type: ResourceType::User,
        id: uuid::Uuid::new_v4().to_string(),
        body: json!({
            "userName": format!("user{i}@bench.test"),
            "externalId": format!("ext-{i}"),
            "active": true,
            "name": {"givenName": "User", "familyName": format!("Number {i}")},
            "emails": [{"value": format!("user{i}@bench.test"), "type": "work", "primary": true}],
        }),
        created: now,
        last_modified: now,
        version: 1,
    }
}

/// Loads `n` users straight into the store, 1,000 per commit.
async fn load(store: &dyn Store, n: usize) {
    let mut i = 0;
    while i < n {
        let batch: Vec<Write> = (i..(i + 1000).min(n))
            .map(|k| Write::Put(user(k)))
            .collect();
        i += batch.len();
        store.commit("acme", batch, vec![]).await.expect("load");
    }
}

fn get(path: &str, token: &str) -> http::Request<Bytes> {
    http::Request::get(format!("/scim/v2/acme{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::new())
        .expect("request")
}

async fn timed(
    service: &ScimService,
    reqs: impl Iterator<Item = http::Request<Bytes>>,
) -> Vec<Duration> {
    let mut times = Vec::new();
    for req in reqs {
        let start = Instant::now();
        let resp = service.handle(req).await;
        times.push(start.elapsed());
        assert_eq!(
            resp.status(),
            200,
            "{:?}",
            String::from_utf8_lossy(resp.body())
        );
    }
    times
}

async fn run(name: &'static str, store: Arc<dyn Store>, n: usize, rows: &mut Vec<Row>) {
    let service = ScimService::new(store.clone());
    let token = service
        .create_tenant("acme", "Acme")
        .await
        .expect("tenant")
        .token;
    let token = token.expose_secret().to_string();
    let started = Instant::now();
    load(store.as_ref(), n).await;
    eprintln!(
        "{name}: loaded {n} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);

    // userName eq lookups, as Okta and Entra send them before a create.
    let lookups: Vec<_> = (0..LOOKUPS + 200)
        .map(|_| {
            let i = rng.gen_range(0..n);
            let q = format!("userName eq \"USER{i}@bench.test\"");
            let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
            get(&format!("/Users?filter={q}"), &token)
        })
        .collect();
    let mut times = timed(&service, lookups.into_iter()).await;
    times.drain(..200); // warm-up
    times.sort();
    let goal_p99 = if name == "PostgreSQL" {
        "< 5 ms, flat from 1,000"
    } else {
        "-"
    };
    rows.push(Row {
        store: name,
        users: n,
        figure: "`userName eq` lookup p50",
        measured: ms(percentile(&times, 0.5)),
        goal: "-".into(),
    });
    rows.push(Row {
        store: name,
        users: n,
        figure: "`userName eq` lookup p99",
        measured: ms(percentile(&times, 0.99)),
        goal: goal_p99.into(),
    });

    // Okta's import: 200-user pages by startIndex, anywhere in the tenant.
    let pages: Vec<_> = (0..PAGES)
        .map(|_| {
            let start = rng.gen_range(0..n.saturating_sub(200).max(1)) + 1;
            get(&format!("/Users?startIndex={start}&count=200"), &token)
        })
        .collect();
    let mut times = timed(&service, pages.into_iter()).await;
    times.sort();
    rows.push(Row {
        store: name,
        users: n,
        figure: "200-user import page p50 / p99",
        measured: format!(
            "{} / {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        ),
        goal: "-".into(),
    });

    // Creates through the service, one request (one commit) each.
    let started = Instant::now();
    for i in 0..CREATES {
        let body = format!(
            r#"{{"userName":"new{i}@bench.test","active":true,"emails":[{{"value":"new{i}@bench.test","primary":true}}]}}"#
        );
        let req = http::Request::post("/scim/v2/acme/Users")
            .header("authorization", format!("Bearer {token}"))
            .body(Bytes::from(body))
            .expect("request");
        let resp = service.handle(req).await;
        assert_eq!(resp.status(), 201);
    }
    let per_s = CREATES as f64 / started.elapsed().as_secs_f64();
    rows.push(Row {
        store: name,
        users: n,
        figure: "creates/s, one client",
        measured: format!("{per_s:.0}"),
        goal: "-".into(),
    });
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    rt.block_on(async {
        for &n in &sizes {
            run("memory", Arc::new(MemoryStore::new()), n, &mut rows).await;
            let dir = std::env::temp_dir().join(format!("scim-bench-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            let sqlite = SqliteStore::open(dir.join("scim.sqlite")).expect("sqlite");
            run("SQLite", Arc::new(sqlite), n, &mut rows).await;
            let _ = std::fs::remove_dir_all(&dir);
            #[cfg(feature = "postgres")]
            postgres(n, &mut rows).await;
        }
    });
    println!("| store | users | figure | measured | goal |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.store, r.users, r.figure, r.measured, r.goal
        );
    }
}

#[cfg(feature = "postgres")]
async fn postgres(n: usize, rows: &mut Vec<Row>) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("PostgreSQL skipped: DATABASE_URL is not set");
        return;
    };
    let schema = format!("scim_bench_{}", uuid::Uuid::new_v4().simple());
    let store = scim_directory::PgStore::connect_in_schema(&url, &schema)
        .await
        .expect("PostgreSQL");
    run("PostgreSQL", Arc::new(store.clone()), n, rows).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(store.pool())
        .await
        .expect("drop schema");
}
