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

    pub fn with_store(store: Arc<dyn Store>) -> Self {
        let service = ScimService::new(store);
        let created = run(service.create_tenant("acme", "Acme")).unwrap();
        Self {
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
