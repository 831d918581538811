//! Shared helpers: a service with one tenant, requests through
//! `ScimService::handle`, and fixtures with id placeholders.
#![allow(dead_code)]

pub mod contract;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(all(feature = "postgres", feature = "axum"))]
pub mod process;
pub mod tenants;

use std::sync::Arc;

use bytes::Bytes;
use directory_core::Snapshot;
use http::{HeaderMap, Method, Request, StatusCode};
use scim_directory::{Change, EventCursor, MemoryStore, ScimService, Store};
use serde_json::Value;

pub struct Harness {
    /// The runtime the store lives on (a PostgreSQL pool's I/O is driven by
    /// it), entered by `send` so plain threads can drive requests too.
    runtime: Option<tokio::runtime::Handle>,
    pub service: ScimService,
    pub tenant: String,
    pub token: String,
    pub cursor: EventCursor,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .expect("response has an id")
            .to_string()
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with_store(Arc::new(MemoryStore::new()))
    }

    /// A harness on an in-memory SQLite database.
    pub fn sqlite() -> Self {
        let store = scim_directory::SqliteStore::in_memory().expect("in-memory SQLite");
        Self::with_store(Arc::new(store))
    }

    pub fn with_store(store: Arc<dyn Store>) -> Self {
        let service = ScimService::new(store);
        let created = run(service.create_tenant("acme", "Acme")).unwrap();
        Self {
            runtime: tokio::runtime::Handle::try_current().ok(),
            service,
            tenant: "acme".into(),
            token: created.token.expose_secret().to_string(),
            cursor: EventCursor::START,
        }
    }

    pub fn send(&self, method: Method, path: &str, body: &str) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(format!("/scim/v2/{}{path}", self.tenant))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/scim+json")
            .body(Bytes::from(body.to_string()))
            .unwrap();
        let _entered = self.runtime.as_ref().map(|r| r.enter());
        let resp = run(self.service.handle(req));
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = if resp.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(resp.body()).expect("response is JSON")
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, "")
    }

    /// Sends a fixture with its placeholders replaced and asserts the status.
    pub fn fixture(
        &self,
        method: Method,
        path: &str,
        name: &str,
        vars: &[(&str, &str)],
        want: u16,
    ) -> Reply {
        let reply = self.send(method, path, &fixture(name, vars));
        assert_eq!(reply.status.as_u16(), want, "{name}: {}", reply.body);
        reply
    }

    /// The changes logged since the last call.
    pub fn new_changes(&mut self) -> Vec<Change> {
        let page = self.service.events(&self.tenant, self.cursor, 1000);
        let page = run(page).unwrap();
        self.cursor = page.next;
        page.events.into_iter().map(|e| e.change).collect()
    }

    pub async fn snapshot(&self) -> Snapshot {
        let dir = self
            .service
            .directory(&self.tenant)
            .await
            .unwrap()
            .with_page_size(2);
        Snapshot::collect(&dir, &Default::default()).await.unwrap()
    }
}

/// Drives a service future to completion from synchronous test code. On a
/// multi-thread tokio runtime (the PostgreSQL tests) the worker is handed
/// off first, so the runtime keeps driving the store's I/O meanwhile.
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| futures::executor::block_on(f))
        }
        _ => futures::executor::block_on(f),
    }
}

/// Each named test, a function taking a [`Harness`], once on every store:
/// `memory`, `sqlite`, and `postgres` (feature `postgres`; a schema of its
/// own on the server in `DATABASE_URL`, skipped with a message without
/// one). `sync:` names `fn(Harness)`, `async:` names `async fn(Harness)`.
/// A test `foo` becomes `foo::memory`, `foo::sqlite` and `foo::postgres`.
#[macro_export]
macro_rules! on_every_store {
    (sync: $($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[test]
                fn memory() {
                    super::$test($crate::common::Harness::new());
                }

                #[test]
                fn sqlite() {
                    super::$test($crate::common::Harness::sqlite());
                }

                #[cfg(feature = "postgres")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(pg) = $crate::common::pg::fresh(module_path!()).await else {
                        return;
                    };
                    let store = std::sync::Arc::new(pg.0.clone());
                    super::$test($crate::common::Harness::with_store(store));
                    $crate::common::pg::drop_schema(&pg.0, &pg.1).await;
                }
            }
        )+
    };
    (async: $($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[tokio::test]
                async fn memory() {
                    super::$test($crate::common::Harness::new()).await;
                }

                #[tokio::test]
                async fn sqlite() {
                    super::$test($crate::common::Harness::sqlite()).await;
                }

                #[cfg(feature = "postgres")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(pg) = $crate::common::pg::fresh(module_path!()).await else {
                        return;
                    };
                    let store = std::sync::Arc::new(pg.0.clone());
                    super::$test($crate::common::Harness::with_store(store)).await;
                    $crate::common::pg::drop_schema(&pg.0, &pg.1).await;
                }
            }
        )+
    };
}

pub fn fixture(name: &str, vars: &[(&str, &str)]) -> String {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    text
}

/// A short name for each change, for readable assertions.
pub fn kinds(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            serde_json::to_value(c).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}
