//! A SIGKILLed server loses no acknowledged write (issue 16): the real
//! `scim_server` example on PostgreSQL, written to by concurrent clients
//! (creates, deactivating PATCHes, member adds), killed with SIGKILL in the
//! middle of the stream, and restarted. Everything a client got a 2xx for
//! is there, nothing is there twice, and the IdP's retry of a write whose
//! answer was lost (201 or 409) leaves exactly one user.
//!
//! Needs `DATABASE_URL` (skipped with a message without it). The test runs
//! `cargo build` for the example itself, a no-op when it is fresh.
#![cfg(all(feature = "postgres", feature = "axum"))]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::pg::{drop_schema, fresh};
use common::process::{admin, build, Server};
use serde_json::{json, Value};

/// Users the clients try to create, each then deactivated and added to the group.
const USERS: usize = 300;
/// Concurrent clients.
const CLIENTS: usize = 8;
/// Acknowledged writes after which the server is killed.
const KILL_AFTER: usize = 120;

/// A write the server answered 2xx to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ack {
    Created { name: String, id: String },
    Deactivated { id: String },
    Member { id: String },
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn count_named(&self, name: &str) -> u64 {
        let filter = format!("userName eq \"{name}\"");
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &filter)
            .finish();
        self.get(&format!("/Users?{query}")).await["totalResults"]
            .as_u64()
            .unwrap()
    }
}

fn patch(op: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]})
}

/// One client's writes: create, deactivate, add to the group, for users
/// `first, first + CLIENTS, ...`, until a request fails in transport (the
/// server is gone). Returns the names whose create got no answer.
async fn write(
    client: Client,
    group: String,
    first: usize,
    acks: Arc<Mutex<Vec<Ack>>>,
    acked: Arc<AtomicUsize>,
) -> Vec<String> {
    let ack = |a: Ack| {
        acks.lock().unwrap().push(a);
        acked.fetch_add(1, Ordering::SeqCst);
    };
    for i in (first..USERS).step_by(CLIENTS) {
        let name = format!("user{i}@kill.test");
        let body = json!({"userName": name, "externalId": format!("ext-{i}"), "active": true});
        let Ok((status, user)) = client
            .send(reqwest::Method::POST, "/Users", Some(body))
            .await
        else {
            return vec![name];
        };
        assert_eq!(status, 201, "create {name}: {user}");
        let id = user["id"].as_str().unwrap().to_string();
        ack(Ack::Created {
            name,
            id: id.clone(),
        });
        let off = patch(json!({"op": "replace", "value": {"active": false}}));
        let path = format!("/Users/{id}");
        let Ok((status, body)) = client.send(reqwest::Method::PATCH, &path, Some(off)).await else {
            return Vec::new();
        };
        assert_eq!(status, 200, "deactivate {id}: {body}");
        ack(Ack::Deactivated { id: id.clone() });
        let add = patch(json!({"op": "add", "path": "members", "value": [{"value": id}]}));
        let path = format!("/Groups/{group}");
        let Ok((status, body)) = client.send(reqwest::Method::PATCH, &path, Some(add)).await else {
            return Vec::new();
        };
        assert_eq!(status, 204, "add {id}: {body}");
        ack(Ack::Member { id });
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_server_loses_no_acknowledged_write() {
    let Some((store, schema)) = fresh("a_sigkilled_server_loses_no_acknowledged_write").await
    else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    let bin = build();
    let dir = std::env::temp_dir().join(format!("scim-kill-{schema}"));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    let token_arg = token_file.to_str().unwrap();
    admin(
        &bin,
        &url,
        &schema,
        &["tenants", "create", "acme", "--token-file", token_arg],
    );
    let token = std::fs::read_to_string(&token_file).unwrap();

    let mut server = Server::start(&bin, &url, &schema, &dir).await;
    let client = |prefix: &str| Client {
        http: reqwest::Client::new(),
        base: format!("{prefix}/acme"),
        token: token.clone(),
    };
    let first = client(&server.prefix);
    let (status, group) = first
        .send(
            reqwest::Method::POST,
            "/Groups",
            Some(json!({"displayName": "Staff"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_str().unwrap().to_string();

    let acks = Arc::new(Mutex::new(Vec::new()));
    let acked = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let task = write(first.clone(), group.clone(), c, acks.clone(), acked.clone());
            tokio::spawn(task)
        })
        .collect();
    while acked.load(Ordering::SeqCst) < KILL_AFTER && !writers.iter().all(|w| w.is_finished()) {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill();
    let mut unanswered = Vec::new();
    for w in writers {
        unanswered.extend(w.await.unwrap());
    }
    let acks = acks.lock().unwrap().clone();
    assert!(
        acks.len() < USERS * 3,
        "the kill came before the clients were done"
    );

    let server = Server::start(&bin, &url, &schema, &dir).await;
    let after = client(&server.prefix);
    let members: BTreeSet<String> = after.get(&format!("/Groups/{group}")).await["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().into())
                .collect()
        })
        .unwrap_or_default();
    let mut created = 0;
    for ack in &acks {
        match ack {
            Ack::Created { name, id } => {
                created += 1;
                let user = after.get(&format!("/Users/{id}")).await;
                assert_eq!(
                    user["userName"],
                    name.as_str(),
                    "acknowledged create of {name}"
                );
                assert_eq!(after.count_named(name).await, 1, "{name} exists once");
            }
            Ack::Deactivated { id } => {
                let user = after.get(&format!("/Users/{id}")).await;
                assert_eq!(user["active"], false, "acknowledged deactivation of {id}");
            }
            Ack::Member { id } => assert!(members.contains(id), "acknowledged member {id}"),
        }
    }
    // The IdP retries a create it got no answer to: 201 if the write was
    // lost with the process, 409 if it had committed; one user either way.
    for name in &unanswered {
        let body = json!({"userName": name});
        let (status, body) = after
            .send(reqwest::Method::POST, "/Users", Some(body))
            .await
            .unwrap();
        assert!(
            status == 201 || status == 409,
            "retry of {name}: {status} {body}"
        );
        assert_eq!(after.count_named(name).await, 1, "{name} exists once");
    }
    let listed = after.get("/Users?startIndex=1&count=1000").await;
    let names: Vec<&str> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), distinct.len(), "no user twice");
    assert_eq!(
        names.len(),
        created + unanswered.len(),
        "every name tried, once"
    );
    eprintln!(
        "killed after {} acknowledged writes ({created} creates); {} creates unanswered",
        acks.len(),
        unanswered.len()
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
    drop_schema(&store, &schema).await;
}
