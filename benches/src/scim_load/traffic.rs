//! One tenant's traffic: Okta's and Entra's request sequences (as in
//! `scim-directory/tests/{okta_flow,entra_flow}.rs`) from two clients at
//! once, each alternating between the two servers request by request, and
//! contended creates of one userName on both servers at the same moment.
//! What a client got a 2xx for goes into a [`Model`] the servers must match.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::LoadConfig;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A tenant as its clients reach it.
#[derive(Clone)]
pub struct Tenant {
    /// The HTTP client (one pool for every tenant).
    pub http: reqwest::Client,
    /// The two servers' endpoint prefixes.
    pub servers: [String; 2],
    /// The tenant id.
    pub id: String,
    /// Its bearer token.
    pub token: String,
}

/// What the clients were told exists: users (userName, active) and groups
/// (displayName, members) by id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Model {
    /// Users by id.
    pub users: BTreeMap<String, (String, bool)>,
    /// Groups by id.
    pub groups: BTreeMap<String, (String, BTreeSet<String>)>,
}

impl Model {
    /// Both models in one (the clients of a tenant create disjoint things;
    /// members of a group both touched are united).
    pub fn merge(&mut self, other: Model) {
        self.users.extend(other.users);
        for (id, (name, members)) in other.groups {
            let entry = self.groups.entry(id).or_insert((name, BTreeSet::new()));
            entry.1.extend(members);
        }
    }
}

/// A client's record: latencies, what went wrong, what it was told.
#[derive(Default)]
pub struct Log {
    /// Every request's latency.
    pub latencies: Vec<Duration>,
    /// Unexpected statuses and transport failures, one line each.
    pub problems: Vec<String>,
    /// The state the 2xx answers vouch for.
    pub model: Model,
    /// Contended userNames whose two creates did not give one 201 and one 409.
    pub contended_failures: usize,
}

/// A tenant's request schedule when paced: the k-th request of its paced
/// clients together is due at `start + k × every`, whichever client sends
/// it, so the tenant offers one steady rate however its requests split
/// between its clients.
#[derive(Clone)]
pub struct Pacer {
    every: Duration,
    next: Arc<Mutex<Instant>>,
}

impl Pacer {
    /// A schedule of one request every `every`, its phase within the
    /// first interval fixed by the tenant id (FNV-1a), so tenants do not
    /// all send in the same instant, as independent provisioning jobs would
    /// not.
    pub fn new(tenant: &str, every: Duration) -> Self {
        let hash = tenant.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let phase = (hash % 10_000) as f64 / 10_000.0;
        let start = Instant::now() + every.mul_f64(phase);
        Self {
            every,
            next: Arc::new(Mutex::new(start)),
        }
    }

    /// The next slot: when that request is due.
    fn take(&self) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let due = *next;
        *next += self.every;
        due
    }
}

/// A client of one tenant that alternates between the servers.
pub struct Client {
    tenant: Tenant,
    next: usize,
    /// The tenant's schedule when paced (see [`Client::paced`]).
    pacer: Option<Pacer>,
    /// What it saw.
    pub log: Log,
}

impl Client {
    /// A client starting on server `first`, sending back to back.
    pub fn new(tenant: Tenant, first: usize) -> Self {
        Self {
            tenant,
            next: first,
            pacer: None,
            log: Log::default(),
        }
    }

    /// Sends each request at its slot of the tenant's schedule (once the
    /// previous one has been answered: an IdP's provisioning job waits for
    /// each answer) instead of back to back. A request's latency is counted
    /// from when it was due, not from when it went out, so a server that
    /// falls behind the schedule shows it in the latencies instead of
    /// hiding it by slowing the client down.
    pub fn paced(mut self, pacer: Option<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// Waits for the next request's turn; when its latency starts.
    async fn turn(&mut self) -> Instant {
        let Some(pacer) = &self.pacer else {
            return Instant::now();
        };
        let due = pacer.take();
        tokio::time::sleep_until(due.into()).await;
        due
    }

    /// Sends on the next server; a status outside `want` is a problem and `None`.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> Option<Value> {
        let server = self.next % 2;
        self.next += 1;
        let since = self.turn().await;
        let (status, reply) = timed(
            since,
            &self.tenant,
            server,
            method,
            path,
            body,
            &mut self.log,
        )
        .await?;
        if status != want {
            let excerpt: String = reply.to_string().chars().take(200).collect();
            let t = &self.tenant.id;
            self.log.problems.push(format!(
                "{t}: {method} {path}: {status}, not {want}: {excerpt}"
            ));
            return None;
        }
        Some(reply)
    }

    /// GET expecting 200.
    pub async fn get(&mut self, path: &str) -> Option<Value> {
        self.send("GET", path, None, 200).await
    }

    async fn create(&mut self, path: &str, body: Value) -> Option<String> {
        let reply = self.send("POST", path, Some(body), 201).await?;
        reply["id"].as_str().map(str::to_string)
    }

    async fn absent(&mut self, path: &str) {
        if let Some(reply) = self.send("GET", path, None, 200).await {
            if reply["totalResults"] != 0 {
                let t = &self.tenant.id;
                self.log
                    .problems
                    .push(format!("{t}: {path} found {}", reply["totalResults"]));
            }
        }
    }

    async fn patch(&mut self, path: &str, ops: Value, want: u16) -> bool {
        let body = json!({"schemas": [PATCH_OP], "Operations": ops});
        self.send("PATCH", path, Some(body), want).await.is_some()
    }

    fn member(&mut self, group: &str, user: &str, present: bool) {
        if let Some((_, members)) = self.log.model.groups.get_mut(group) {
            match present {
                true => members.insert(user.to_string()),
                false => members.remove(user),
            };
        }
    }
}

/// Creates the tenant's group every client adds members to at once.
pub async fn everyone(c: &mut Client) -> Option<String> {
    let body = json!({"displayName": "Everyone"});
    let id = c.create("/Groups", body).await?;
    c.log
        .model
        .groups
        .insert(id.clone(), ("Everyone".into(), BTreeSet::new()));
    Some(id)
}

/// One request on `server`: its status and JSON body (null when empty),
/// its latency (from `since`) logged; `None` (a problem) when it failed in
/// transport.
async fn timed(
    since: Instant,
    tenant: &Tenant,
    server: usize,
    method: &str,
    path: &str,
    body: Option<Value>,
    log: &mut Log,
) -> Option<(u16, Value)> {
    let prefix = tenant.servers.get(server)?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).ok()?;
    let mut req = tenant
        .http
        .request(method.clone(), format!("{prefix}/{}{path}", tenant.id))
        .bearer_auth(&tenant.token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let sent = async {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok::<_, reqwest::Error>((status, resp.bytes().await?))
    };
    match sent.await {
        Ok((status, bytes)) => {
            log.latencies.push(since.elapsed());
            Some((
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ))
        }
        Err(e) => {
            log.problems
                .push(format!("{}: {method} {path}: {e}", tenant.id));
            None
        }
    }
}

fn filter(attr: &str, value: &str) -> String {
    let f = format!("{attr} eq \"{value}\"");
    form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", &f)
        .finish()
}

/// Okta: look up, create, deactivate (path-less), reactivate most, add to
/// and sometimes remove from the shared group, list; then group push with
/// a value-list add and a filtered-path remove.
pub async fn okta(mut c: Client, config: LoadConfig, everyone: String) -> Log {
    let mut mine = Vec::new();
    c.log
        .model
        .groups
        .insert(everyone.clone(), ("Everyone".into(), BTreeSet::new()));
    for j in 0..config.users_per_client {
        let name = format!("okta{j}@{}.test", c.tenant.id);
        let q = filter("userName", &name);
        c.absent(&format!("/Users?{q}&startIndex=1&count=100"))
            .await;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "name": {"givenName": "Test", "familyName": format!("User{j}")},
            "emails": [{"primary": true, "value": name, "type": "work"}],
            "externalId": format!("00u{j}"), "password": "1mz050nq", "active": true
        });
        let Some(id) = c.create("/Users", body).await else {
            continue;
        };
        let user = format!("/Users/{id}");
        let mut active = true;
        if c.patch(
            &user,
            json!([{"op": "replace", "value": {"active": false}}]),
            200,
        )
        .await
        {
            active = false;
        }
        if j % 3 != 0
            && c.patch(
                &user,
                json!([{"op": "replace", "value": {"active": true}}]),
                200,
            )
            .await
        {
            active = true;
        }
        c.log.model.users.insert(id.clone(), (name, active));
        let add = json!([{"op": "add", "path": "members", "value": [{"value": id}]}]);
        if c.patch(&format!("/Groups/{everyone}"), add, 204).await {
            c.member(&everyone, &id, true);
        }
        if j % 4 == 1 {
            let remove = json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]);
            if c.patch(&format!("/Groups/{everyone}"), remove, 204).await {
                c.member(&everyone, &id, false);
            }
        }
        if j % 5 == 0 {
            c.send("GET", "/Users?startIndex=1&count=100", None, 200)
                .await;
        }
        mine.push(id);
    }
    for g in 0..config.groups_per_client {
        let name = format!("okta-group-{g}");
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []});
        let Some(id) = c.create("/Groups", body).await else {
            continue;
        };
        c.log
            .model
            .groups
            .insert(id.clone(), (name, BTreeSet::new()));
        let path = format!("/Groups/{id}");
        let values: Vec<Value> = mine.iter().map(|u| json!({"value": u})).collect();
        if c.patch(
            &path,
            json!([{"op": "add", "path": "members", "value": values}]),
            204,
        )
        .await
        {
            mine.clone().iter().for_each(|u| c.member(&id, u, true));
        }
        if let Some(first) = mine.first().cloned() {
            let remove =
                json!([{"op": "remove", "path": format!("members[value eq \"{first}\"]")}]);
            if c.patch(&path, remove, 204).await {
                c.member(&id, &first, false);
            }
        }
        c.send("GET", &path, None, 200).await;
    }
    c.log
}

/// Entra: matching query, create with the enterprise extension, disable
/// some with `"False"`, the path-less multi-attribute update, add to the
/// shared group; then groups looked up by displayName, created, members
/// added one request each and one removed, and a group list.
pub async fn entra(mut c: Client, config: LoadConfig, everyone: String) -> Log {
    let mut mine = Vec::new();
    c.log
        .model
        .groups
        .insert(everyone.clone(), ("Everyone".into(), BTreeSet::new()));
    for j in 0..config.users_per_client {
        let name = format!("entra{j}@{}.test", c.tenant.id);
        c.absent(&format!("/Users?{}", filter("userName", &name)))
            .await;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "externalId": format!("0a21f0f2-{j}"), "userName": name, "active": true,
            "displayName": format!("Pat {j}"), "name": {"familyName": "Jones", "givenName": "Pat"},
            ENTERPRISE: {"employeeNumber": format!("{j}"), "department": "Finance"}
        });
        let Some(id) = c.create("/Users", body).await else {
            continue;
        };
        let user = format!("/Users/{id}");
        let mut active = true;
        if j % 3 == 0
            && c.patch(
                &user,
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
                200,
            )
            .await
        {
            active = false;
        }
        let update = json!([{"op": "replace", "value": {
            "displayName": format!("Pat Jones-Smith {j}"), "name.givenName": "Patricia",
            format!("{ENTERPRISE}:department"): "Treasury"
        }}]);
        c.patch(&user, update, 200).await;
        c.log.model.users.insert(id.clone(), (name, active));
        let add = json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]);
        if c.patch(&format!("/Groups/{everyone}"), add, 204).await {
            c.member(&everyone, &id, true);
        }
        mine.push(id);
    }
    for g in 0..config.groups_per_client {
        let name = format!("Entra Group {g}");
        let q = filter("displayName", &name);
        c.absent(&format!("/Groups?excludedAttributes=members&{q}"))
            .await;
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": format!("8aa1-{g}"), "displayName": name});
        let Some(id) = c.create("/Groups", body).await else {
            continue;
        };
        c.log
            .model
            .groups
            .insert(id.clone(), (name, BTreeSet::new()));
        let path = format!("/Groups/{id}");
        for u in mine.clone() {
            let add = json!([{"op": "Add", "path": "members", "value": [{"value": u}]}]);
            if c.patch(&path, add, 204).await {
                c.member(&id, &u, true);
            }
        }
        if let Some(first) = mine.first().cloned() {
            let remove = json!([{"op": "Remove", "path": "members", "value": [{"value": first}]}]);
            if c.patch(&path, remove, 204).await {
                c.member(&id, &first, false);
            }
        }
        c.send("GET", "/Groups?startIndex=1&count=100", None, 200)
            .await;
    }
    c.log
}

/// Each contended userName POSTed on both servers at once, spelled in two
/// cases: one 201 and one 409 (`uniqueness`), or it counts as a failure.
/// Paced (`every`, the tenant's interval), the pairs are spread over the
/// tenant's run, one every ten intervals, instead of all sent at its start.
pub async fn contend(tenant: Tenant, config: LoadConfig, every: Option<Duration>) -> Log {
    let mut log = Log::default();
    for k in 0..config.contended_per_tenant {
        if let Some(every) = every {
            tokio::time::sleep(every * 10).await;
        }
        let name = format!("Shared{k}@{}.test", tenant.id);
        let (mut a, mut b) = (Log::default(), Log::default());
        let body = |n: String| Some(json!({"userName": n}));
        let now = Instant::now();
        let (ra, rb) = tokio::join!(
            timed(
                now,
                &tenant,
                0,
                "POST",
                "/Users",
                body(name.clone()),
                &mut a
            ),
            timed(
                now,
                &tenant,
                1,
                "POST",
                "/Users",
                body(name.to_lowercase()),
                &mut b
            ),
        );
        for l in [a, b] {
            log.latencies.extend(l.latencies);
            log.problems.extend(l.problems);
        }
        let mut statuses = [&ra, &rb].map(|r| r.as_ref().map(|(s, _)| *s));
        statuses.sort();
        let winner = [ra, rb].into_iter().flatten().find(|(s, _)| *s == 201);
        match (statuses, winner) {
            ([Some(201), Some(409)], Some((_, user))) => {
                let id = user["id"].as_str().unwrap_or_default().to_string();
                let stored = user["userName"].as_str().unwrap_or_default().to_string();
                log.model.users.insert(id, (stored, true));
            }
            (other, _) => {
                log.contended_failures += 1;
                log.problems
                    .push(format!("{}: contended {name}: {other:?}", tenant.id));
            }
        }
    }
    log
}
