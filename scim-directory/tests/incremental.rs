//! Incremental rounds from the change log: after random pushes between
//! rounds, each incremental snapshot equals a full collection of the same
//! store; a state the log cannot vouch for makes a full round that says why.

mod common;

use std::sync::Arc;

use common::{run, Harness};
use directory_core::{
    DirectoryProviderExt, FullReason, RoundKind, Snapshot, SyncOptions, SyncRound, SyncState,
};
use http::Method;
use proptest::prelude::*;
use scim_directory::{MemoryStore, ScimDirectory, SqliteStore, Store};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What an IdP does between rounds; indices pick among live users and groups.
#[derive(Debug, Clone)]
enum Op {
    CreateUser,
    PatchTitle(usize),
    PutUser(usize),
    Suspend(usize),
    Reactivate(usize),
    DeleteUser(usize),
    CreateGroup,
    RenameGroup(usize),
    DeleteGroup(usize),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    Nest(usize, usize),
    Unnest(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let i = || 0..8usize;
    prop_oneof![
        3 => Just(Op::CreateUser),
        2 => i().prop_map(Op::PatchTitle),
        1 => i().prop_map(Op::PutUser),
        2 => i().prop_map(Op::Suspend),
        1 => i().prop_map(Op::Reactivate),
        1 => i().prop_map(Op::DeleteUser),
        2 => Just(Op::CreateGroup),
        1 => i().prop_map(Op::RenameGroup),
        1 => i().prop_map(Op::DeleteGroup),
        3 => (i(), i()).prop_map(|(g, u)| Op::AddMember(g, u)),
        2 => (i(), i()).prop_map(|(g, u)| Op::RemoveMember(g, u)),
        1 => (i(), i()).prop_map(|(a, b)| Op::Nest(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Op::Unnest(a, b)),
    ]
}

/// The IdP's side: a harness and the ids it has created and not deleted.
struct Idp {
    h: Harness,
    users: Vec<String>,
    groups: Vec<String>,
    n: usize,
}

fn pick(ids: &[String], i: usize) -> Option<String> {
    (!ids.is_empty()).then(|| ids[i % ids.len()].clone())
}

fn patch(op: &str, path: &str, value: serde_json::Value) -> String {
    serde_json::json!({"schemas": [PATCH], "Operations": [{"op": op, "path": path, "value": value}]})
        .to_string()
}

impl Idp {
    fn new(store: Arc<dyn Store>) -> Self {
        Idp {
            h: Harness::with_store(store),
            users: vec![],
            groups: vec![],
            n: 0,
        }
    }

    fn user_body(&mut self, name: &str) -> String {
        self.n += 1;
        format!(
            r#"{{"userName":"{name}","active":true,"title":"T{n}","name":{{"givenName":"G{n}","familyName":"F"}},
               "emails":[{{"value":"{name}","type":"work","primary":true}}]}}"#,
            n = self.n
        )
    }

    fn apply(&mut self, op: &Op) {
        let (users, groups) = (self.users.clone(), self.groups.clone());
        let (u, g) = (|i| pick(&users, i), |i| pick(&groups, i));
        match op {
            Op::CreateUser => {
                let name = format!("u{}@x.test", self.n);
                let body = self.user_body(&name);
                let r = self.h.send(Method::POST, "/Users", &body);
                self.users.push(r.id());
            }
            Op::CreateGroup => {
                self.n += 1;
                let body = format!(r#"{{"displayName":"Group {}"}}"#, self.n);
                let r = self.h.send(Method::POST, "/Groups", &body);
                self.groups.push(r.id());
            }
            Op::PatchTitle(i) => self.on_user(u(*i), |s, id| {
                s.n += 1;
                let b = patch("replace", "title", format!("Title {}", s.n).into());
                (Method::PATCH, format!("/Users/{id}"), b)
            }),
            Op::PutUser(i) => self.on_user(u(*i), |s, id| {
                let r = s.h.get(&format!("/Users/{id}"));
                let name = r.body["userName"].as_str().unwrap().to_string();
                let b = s.user_body(&name);
                (Method::PUT, format!("/Users/{id}"), b)
            }),
            Op::Suspend(i) | Op::Reactivate(i) => {
                let active = matches!(op, Op::Reactivate(_));
                self.on_user(u(*i), |_, id| {
                    let b = patch("replace", "active", active.into());
                    (Method::PATCH, format!("/Users/{id}"), b)
                })
            }
            Op::DeleteUser(i) => {
                if let Some(id) = u(*i) {
                    self.h.send(Method::DELETE, &format!("/Users/{id}"), "");
                    self.users.retain(|x| *x != id);
                }
            }
            Op::RenameGroup(i) => self.on_group(g(*i), |s, id| {
                s.n += 1;
                let b = patch("replace", "displayName", format!("Renamed {}", s.n).into());
                (Method::PATCH, format!("/Groups/{id}"), b)
            }),
            Op::DeleteGroup(i) => {
                if let Some(id) = g(*i) {
                    self.h.send(Method::DELETE, &format!("/Groups/{id}"), "");
                    self.groups.retain(|x| *x != id);
                }
            }
            Op::AddMember(gi, ui) => self.member(g(*gi), u(*ui), "add"),
            Op::RemoveMember(gi, ui) => self.member(g(*gi), u(*ui), "remove"),
            Op::Nest(a, b) => self.member(g(*a), g(*b), "add"),
            Op::Unnest(a, b) => self.member(g(*a), g(*b), "remove"),
        }
    }

    fn on_user(
        &mut self,
        id: Option<String>,
        f: impl FnOnce(&mut Self, &str) -> (Method, String, String),
    ) {
        if let Some(id) = id {
            let (m, path, body) = f(self, &id);
            self.h.send(m, &path, &body);
        }
    }

    fn on_group(
        &mut self,
        id: Option<String>,
        f: impl FnOnce(&mut Self, &str) -> (Method, String, String),
    ) {
        self.on_user(id, f)
    }

    fn member(&mut self, group: Option<String>, member: Option<String>, op: &str) {
        let (Some(group), Some(member)) = (group, member) else {
            return;
        };
        let body = if op == "add" {
            patch("add", "members", serde_json::json!([{ "value": member }]))
        } else {
            let path = format!(r#"members[value eq "{member}"]"#);
            serde_json::json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": path}]})
                .to_string()
        };
        self.h
            .send(Method::PATCH, &format!("/Groups/{group}"), &body);
    }

    fn directory(&self) -> ScimDirectory {
        run(self.h.service.directory(&self.h.tenant))
            .unwrap()
            .with_page_size(3)
    }
}

fn options() -> SyncOptions {
    SyncOptions {
        full_every: 1000,
        ..SyncOptions::default()
    }
}

fn sync(dir: &ScimDirectory, previous: Option<&SyncRound>) -> SyncRound {
    let previous = previous.map(|r| (&r.snapshot, &r.state));
    run(dir.sync(previous, &options())).unwrap()
}

fn full(dir: &ScimDirectory) -> Snapshot {
    run(Snapshot::collect(dir, &Default::default())).unwrap()
}

/// Pushes each round's changes, syncs, and compares with a full collection.
fn check_rounds(store: Arc<dyn Store>, rounds: &[Vec<Op>]) {
    let mut idp = Idp::new(store);
    let dir = idp.directory();
    let mut last = sync(&dir, None);
    assert_eq!(
        last.report.round,
        RoundKind::Full {
            reason: FullReason::NoState
        }
    );
    for (n, ops) in rounds.iter().enumerate() {
        for op in ops {
            idp.apply(op);
        }
        let round = sync(&dir, Some(&last));
        assert_eq!(round.report.round, RoundKind::Incremental, "round {n}");
        let truth = full(&dir);
        assert!(
            round.snapshot.same_directory(&truth),
            "round {n} after {ops:?}:\nincremental {:#?}\nfull {:#?}",
            round.snapshot,
            truth
        );
        last = round;
    }
}

fn rounds() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 0..10), 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn incremental_rounds_equal_full_collections_on_the_memory_store(rounds in rounds()) {
        check_rounds(Arc::new(MemoryStore::new()), &rounds);
    }

    #[test]
    fn incremental_rounds_equal_full_collections_on_sqlite(rounds in rounds()) {
        check_rounds(Arc::new(SqliteStore::in_memory().unwrap()), &rounds);
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_rounds_equal_full_collections_on_postgres() {
    use proptest::test_runner::{Config, TestRunner};
    let test = "incremental_rounds_equal_full_collections_on_postgres";
    let Some((probe, schema)) = common::pg::fresh(test).await else {
        return;
    };
    common::pg::drop_schema(&probe, &schema).await;
    let mut runner = TestRunner::new(Config {
        cases: 6,
        ..Config::default()
    });
    runner
        .run(&rounds(), |rounds| {
            let (store, schema) = run(common::pg::fresh(test)).unwrap();
            let store = Arc::new(store);
            check_rounds(store.clone(), &rounds);
            run(common::pg::drop_schema(&store, &schema));
            Ok(())
        })
        .unwrap();
}

/// A store with a user in a group, synced once.
fn synced() -> (Idp, ScimDirectory, SyncRound) {
    let mut idp = Idp::new(Arc::new(MemoryStore::new()));
    idp.apply(&Op::CreateUser);
    idp.apply(&Op::CreateGroup);
    idp.apply(&Op::AddMember(0, 0));
    let dir = idp.directory();
    let first = sync(&dir, None);
    (idp, dir, first)
}

fn with_cursor(round: &SyncRound, cursor: serde_json::Value) -> SyncRound {
    let mut json: serde_json::Value =
        serde_json::from_str(&round.state.to_json().unwrap()).unwrap();
    json["cursor"] = cursor;
    let state = SyncState::from_json(&json.to_string()).unwrap();
    SyncRound {
        state,
        ..round.clone()
    }
}

fn provider_reason(round: &SyncRound) -> String {
    match &round.report.round {
        RoundKind::Full {
            reason: FullReason::Provider { detail },
        } => detail.clone(),
        other => panic!("expected a full round the provider asked for, got {other:?}"),
    }
}

#[test]
fn a_round_with_nothing_new_is_incremental_and_keeps_the_cursor() {
    let (_idp, dir, first) = synced();
    let again = sync(&dir, Some(&first));
    assert_eq!(again.report.round, RoundKind::Incremental);
    assert_eq!(again.state.cursor(), first.state.cursor());
    assert!(again.snapshot.same_directory(&first.snapshot));
}

#[test]
fn a_cursor_ahead_of_the_log_makes_a_full_round() {
    let (mut idp, dir, first) = synced();
    let mut cursor = first.state.cursor().clone();
    cursor["seq"] = (cursor["seq"].as_u64().unwrap() + 50).into();
    idp.apply(&Op::CreateUser);
    let round = sync(&dir, Some(&with_cursor(&first, cursor)));
    assert!(provider_reason(&round).contains("ahead of the change log"));
    assert!(round.snapshot.same_directory(&full(&dir)));
    // The round keeps the log's real position: the next one is incremental.
    assert_eq!(
        sync(&dir, Some(&round)).report.round,
        RoundKind::Incremental
    );
}

#[test]
fn a_log_from_another_store_makes_a_full_round() {
    let (_idp, _dir, first) = synced();
    // Another store, same tenant name, as many events: the anchor differs.
    let (_other, other_dir, _) = synced();
    let round = sync(&other_dir, Some(&first));
    assert!(provider_reason(&round).contains("no longer holds event"));
    assert!(round.snapshot.same_directory(&full(&other_dir)));
}

#[test]
fn a_state_of_another_tenant_or_without_a_log_position_makes_a_full_round() {
    let (_idp, dir, first) = synced();
    let mut other = first.state.cursor().clone();
    other["tenant"] = "globex".into();
    let round = sync(&dir, Some(&with_cursor(&first, other)));
    assert!(provider_reason(&round).contains("tenant globex"));
    for junk in [serde_json::Value::Null, serde_json::json!({"seq": "x"})] {
        let round = sync(&dir, Some(&with_cursor(&first, junk)));
        assert!(provider_reason(&round).contains("no SCIM change-log position"));
        assert!(round.snapshot.same_directory(&full(&dir)));
    }
}

/// Runs `after` between two rounds over a user and two groups, the second
/// nested in the first, and checks the incremental round against a full one.
fn nested_round(before: &[Op], after: &[Op]) {
    let mut idp = Idp::new(Arc::new(MemoryStore::new()));
    for op in [
        Op::CreateUser,
        Op::CreateGroup,
        Op::CreateGroup,
        Op::Nest(0, 1),
    ]
    .iter()
    .chain(before)
    {
        idp.apply(op);
    }
    let dir = idp.directory();
    let first = sync(&dir, None);
    for op in after {
        idp.apply(op);
    }
    let round = sync(&dir, Some(&first));
    assert_eq!(round.report.round, RoundKind::Incremental);
    let truth = full(&dir);
    assert!(!round.snapshot.same_directory(&first.snapshot));
    assert!(
        round.snapshot.same_directory(&truth),
        "{round:#?}\n{truth:#?}"
    );
}

#[test]
fn a_member_added_to_a_nested_group_is_a_transitive_member_of_its_parent_next_round() {
    nested_round(&[], &[Op::AddMember(1, 0)]);
}

#[test]
fn a_nested_group_deleted_or_taken_out_takes_its_transitive_members_along() {
    nested_round(&[Op::AddMember(1, 0)], &[Op::DeleteGroup(1)]);
    nested_round(&[Op::AddMember(1, 0)], &[Op::Unnest(0, 1)]);
    nested_round(&[Op::AddMember(1, 0), Op::Unnest(0, 1)], &[Op::Nest(0, 1)]);
}

/// After a full round the state is at the tenant's last event, on `store`:
/// another tenant's later events do not move it.
fn full_round_keeps_the_last_event(store: Arc<dyn Store>) {
    let mut idp = Idp::new(store.clone());
    for op in [Op::CreateUser, Op::CreateGroup, Op::AddMember(0, 0)] {
        idp.apply(&op);
    }
    run(idp.h.service.create_tenant("globex", "Globex")).unwrap();
    let dir = idp.directory();
    let first = sync(&dir, None);
    let events = run(store.events("acme", scim_directory::EventCursor::START, 100)).unwrap();
    let last = events.last().unwrap();
    assert_eq!(first.state.cursor()["seq"], last.seq);
    assert_eq!(run(store.last_event("acme")).unwrap().as_ref(), Some(last));
    assert_eq!(run(store.last_event("globex")).unwrap(), None);
}

#[test]
fn a_full_round_starts_at_the_tenants_last_event_on_memory_and_sqlite() {
    full_round_keeps_the_last_event(Arc::new(MemoryStore::new()));
    full_round_keeps_the_last_event(Arc::new(SqliteStore::in_memory().unwrap()));
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_round_starts_at_the_tenants_last_event_on_postgres() {
    let test = "a_full_round_starts_at_the_tenants_last_event_on_postgres";
    let Some((store, schema)) = common::pg::fresh(test).await else {
        return;
    };
    let store = Arc::new(store);
    full_round_keeps_the_last_event(store.clone());
    common::pg::drop_schema(&store, &schema).await;
}
