//! The contract every [`Store`] meets, run against each store.
#![allow(dead_code)]

use chrono::Utc;
use scim_directory::{
    Change, EventCursor, IndexFilter, IndexOp, IndexedAttr, ResourceQuery, ResourceType,
    ScimService, ServiceConfig, Store, StoreError, StoredResource, TenantRecord, TenantStatus,
    Write,
};
use serde_json::json;

/// The tenants the contracts write to: a store refuses writes to a tenant
/// it does not have. Registering one twice is harmless.
pub async fn register_tenants(store: &dyn Store) {
    for id in ["t", "t1", "t2", "t3", "tp", "tq", "tq-other"] {
        let now = Utc::now();
        let record = TenantRecord {
            id: id.into(),
            name: id.into(),
            token_hash: Some(format!("hash-of-{id}")),
            created: now,
            token_issued: now,
            previous_token_hash: None,
            previous_token_expires: None,
            status: TenantStatus::Active,
        };
        match store.insert_tenant(&record).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("registering {id}: {e}"),
        }
    }
}

pub fn user(id: &str, name: &str) -> StoredResource {
    let now = Utc::now();
    StoredResource {
        resource_type: ResourceType::User,
        id: id.into(),
        body: json!({"userName": name}),
        created: now,
        last_modified: now,
        version: 1,
    }
}

pub fn group(id: &str, name: &str) -> StoredResource {
    StoredResource {
        resource_type: ResourceType::Group,
        body: json!({"displayName": name}),
        ..user(id, "")
    }
}

fn with_members(id: &str, name: &str, members: &[&str]) -> StoredResource {
    let members: Vec<_> = members.iter().map(|m| json!({"value": m})).collect();
    StoredResource {
        body: json!({"displayName": name, "members": members}),
        ..group(id, name)
    }
}

/// The groups of a member follow every write and delete of a group.
async fn groups_by_member(store: &dyn Store) {
    let of = |member: &'static str| async move {
        let groups = store.groups_with_member("t3", member).await.unwrap();
        groups.into_iter().map(|g| g.id).collect::<Vec<_>>()
    };
    let writes = vec![
        Write::Put(with_members("gb", "B", &["u2", "ga"])),
        Write::Put(with_members("ga", "A", &["u1", "u2", "u1"])),
    ];
    store.commit("t3", writes, vec![]).await.unwrap();
    assert_eq!(of("u2").await, ["ga", "gb"]);
    assert_eq!(of("u1").await, ["ga"]);
    assert_eq!(of("ga").await, ["gb"], "a nested group is a member too");
    assert!(store
        .groups_with_member("t1", "u2")
        .await
        .unwrap()
        .is_empty());
    let gb = v(with_members("gb", "B", &["ga"]), 2);
    store
        .commit("t3", vec![Write::Put(gb)], vec![])
        .await
        .unwrap();
    assert_eq!(of("u2").await, ["ga"]);
    let gone = vec![Write::Delete(ResourceType::Group, "ga".into())];
    store.commit("t3", gone, vec![]).await.unwrap();
    assert!(of("u2").await.is_empty() && of("u1").await.is_empty());
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Which ids exist, by kind and tenant, in one call (how a group write
/// checks the members it adds).
async fn existing_by_kind(store: &dyn Store) {
    store
        .commit("t3", vec![Write::Put(user("u9", "u9@x.test"))], vec![])
        .await
        .unwrap();
    let asked = ids(&["u9", "gb", "ghost", "u9"]);
    let users = store
        .existing("t3", ResourceType::User, &asked)
        .await
        .unwrap();
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["u9"]);
    let groups = store
        .existing("t3", ResourceType::Group, &asked)
        .await
        .unwrap();
    assert_eq!(groups.into_iter().collect::<Vec<_>>(), ["gb"]);
    let elsewhere = store
        .existing("t1", ResourceType::User, &ids(&["u9"]))
        .await;
    assert!(elsewhere.unwrap().is_empty(), "another tenant's user");
    assert!(store
        .existing("t3", ResourceType::User, &[])
        .await
        .unwrap()
        .is_empty());
}

/// A group read with the kinds of the members a write would add, in one
/// call (how a PATCH of members reads): never the group itself, never
/// another tenant's.
async fn group_and_member_kinds(store: &dyn Store) {
    store
        .commit("t3", vec![Write::Put(group("gc", "C"))], vec![])
        .await
        .unwrap();
    let asked = ids(&["u9", "gc", "gb", "ghost", "u9"]);
    let (g, kinds) = store
        .group_and_kinds("t3", "gb", &asked)
        .await
        .unwrap()
        .expect("group gb");
    assert_eq!((g.id.as_str(), &g.body["displayName"]), ("gb", &json!("B")));
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            ("gc".to_string(), ResourceType::Group),
            ("u9".to_string(), ResourceType::User)
        ]
    );
    let (_, none) = store
        .group_and_kinds("t3", "gb", &[])
        .await
        .unwrap()
        .expect("group gb");
    assert!(none.is_empty());
    for (tenant, id) in [("t3", "u9"), ("t3", "ghost"), ("t1", "gb")] {
        let got = store.group_and_kinds(tenant, id, &asked).await.unwrap();
        assert!(got.is_none(), "{tenant}/{id} is not a group there");
    }
    let gone = vec![Write::Delete(ResourceType::Group, "gc".into())];
    store.commit("t3", gone, vec![]).await.unwrap();
}

/// `r` at version `n`.
pub fn v(r: StoredResource, n: u64) -> StoredResource {
    StoredResource { version: n, ..r }
}

pub fn created(id: &str) -> Change {
    Change::UserDeleted { user_id: id.into() }
}

pub async fn contract(store: &dyn Store) {
    register_tenants(store).await;
    for id in ["c", "a", "b", "d"] {
        store
            .commit(
                "t1",
                vec![Write::Put(user(id, &format!("{id}@x.test")))],
                vec![created(id)],
            )
            .await
            .unwrap();
    }
    store
        .commit(
            "t2",
            vec![Write::Put(user("a", "a@x.test"))],
            vec![created("t2a")],
        )
        .await
        .unwrap();

    let ids = |v: Vec<StoredResource>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.page("t1", ResourceType::User, None, 3).await.unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        ids(store
            .page("t1", ResourceType::User, Some("c"), 3)
            .await
            .unwrap()),
        ["d"]
    );
    assert!(store
        .page("t1", ResourceType::Group, None, 3)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(store
            .page("t2", ResourceType::User, None, 10)
            .await
            .unwrap()),
        ["a"]
    );

    // userName is unique per tenant, case-insensitively; a failed commit
    // writes nothing and logs nothing.
    let clash = store
        .commit(
            "t1",
            vec![Write::Put(user("e", "A@X.TEST"))],
            vec![created("e")],
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(store
        .get("t1", ResourceType::User, "e")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .find_by_key("t1", ResourceType::User, "a@x.test")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("a".into())
    );
    // Renaming a user frees its old name.
    store
        .commit("t1", vec![Write::Put(v(user("a", "z@x.test"), 2))], vec![])
        .await
        .unwrap();
    store
        .commit("t1", vec![Write::Put(user("e", "a@x.test"))], vec![])
        .await
        .unwrap();
    store
        .commit(
            "t1",
            vec![Write::Delete(ResourceType::User, "e".into())],
            vec![],
        )
        .await
        .unwrap();
    assert!(store
        .find_by_key("t1", ResourceType::User, "a@x.test")
        .await
        .unwrap()
        .is_none());

    // So is a group's displayName, apart from userNames.
    store
        .commit("t1", vec![Write::Put(group("g1", "Sales"))], vec![])
        .await
        .unwrap();
    let clash = store
        .commit("t1", vec![Write::Put(group("g2", "SALES"))], vec![])
        .await;
    assert_eq!(clash, Err(StoreError::Conflict("displayName".into())));
    store
        .commit(
            "t1",
            vec![Write::Put(v(group("g1", "Sales EU"), 2))],
            vec![],
        )
        .await
        .unwrap();
    store
        .commit("t1", vec![Write::Put(group("g2", "sales"))], vec![])
        .await
        .unwrap();
    store
        .commit("t1", vec![Write::Put(user("s", "sales eu"))], vec![])
        .await
        .unwrap();
    assert_eq!(
        store
            .find_by_key("t1", ResourceType::Group, "sales eu")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("g1".into())
    );

    // A Put must be based on the stored version: a second writer of one
    // version, or a writer of a deleted resource, is stale and changes nothing.
    for stale in [
        v(user("a", "lost@x.test"), 2),
        v(user("a", "lost@x.test"), 4),
        user("a", "lost@x.test"),
        v(user("gone", "lost@x.test"), 3),
    ] {
        let got = store.commit("t1", vec![Write::Put(stale)], vec![created("x")]);
        assert!(matches!(got.await, Err(StoreError::Stale(_))));
    }
    let a = store.get("t1", ResourceType::User, "a").await.unwrap();
    assert_eq!(
        a.map(|a| (a.version, a.body)),
        Some((2, json!({"userName": "z@x.test"})))
    );

    groups_by_member(store).await;
    existing_by_kind(store).await;
    group_and_member_kinds(store).await;

    let events = store.events("t1", EventCursor::START, 100).await.unwrap();
    assert_eq!(
        events.len(),
        4,
        "t2's events and the failed commit are not in t1's log"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let after = store
        .events("t1", EventCursor(events[1].seq), 1)
        .await
        .unwrap();
    assert_eq!(after[0].seq, events[2].seq);

    totals_follow_writes(store).await;
    tenants_are_changed_atomically(store).await;
    writes_need_their_tenant(store).await;
}

/// An unfiltered listing's total follows every create and delete (the
/// PostgreSQL store keeps it in a table of counts): as many as a walk of
/// the tenant finds, a stale write or a delete of nothing counting nothing.
async fn totals_follow_writes(store: &dyn Store) {
    let total = |rt| async move {
        let all = ResourceQuery {
            filter: None,
            offset: 0,
            limit: 0,
        };
        let counted = store.query("t1", rt, &all).await.unwrap().total;
        let walked = store.page("t1", rt, None, 1_000).await.unwrap().len();
        assert_eq!(counted, walked, "{rt:?}");
        counted
    };
    let (users, groups) = (
        total(ResourceType::User).await,
        total(ResourceType::Group).await,
    );
    let writes = vec![
        Write::Put(user("n1", "n1@x.test")),
        Write::Put(user("n2", "n2@x.test")),
        Write::Put(group("ng", "New group")),
        Write::Delete(ResourceType::User, "n2".into()),
        Write::Delete(ResourceType::User, "never-there".into()),
    ];
    store.commit("t1", writes, vec![]).await.unwrap();
    let stale = store.commit("t1", vec![Write::Put(user("n1", "again@x.test"))], vec![]);
    assert!(matches!(stale.await, Err(StoreError::Stale(_))));
    assert_eq!(total(ResourceType::User).await, users + 1);
    assert_eq!(total(ResourceType::Group).await, groups + 1);
    let gone = vec![
        Write::Delete(ResourceType::User, "n1".into()),
        Write::Delete(ResourceType::Group, "ng".into()),
    ];
    store.commit("t1", gone, vec![]).await.unwrap();
    assert_eq!(total(ResourceType::User).await, users);
    assert_eq!(total(ResourceType::Group).await, groups);
}

/// Concurrent changes to one tenant's record all land: none reads the
/// record another is about to replace (on PostgreSQL they run on
/// separate pooled connections).
async fn tenants_are_changed_atomically(store: &dyn Store) {
    let changes = (0..12).map(|i| async move {
        let mark = format!("<{i}>");
        let change = move |t: &mut TenantRecord| t.name.push_str(&mark);
        store.modify_tenant("t3", &change).await.unwrap()
    });
    let done = futures::future::join_all(changes).await;
    assert!(done.iter().all(Option::is_some));
    let name = store.tenant("t3").await.unwrap().unwrap().name;
    for i in 0..12 {
        assert!(name.contains(&format!("<{i}>")), "change {i} lost: {name}");
    }
    let suspend = |t: &mut TenantRecord| t.status = TenantStatus::Suspended;
    let after = store.modify_tenant("t3", &suspend).await.unwrap().unwrap();
    assert_eq!((after.status, after.name), (TenantStatus::Suspended, name));
    assert_eq!(store.modify_tenant("nobody", &suspend).await.unwrap(), None);
}

/// A write to a tenant the store does not have (never created, or deleted
/// while the request was in flight) fails and leaves nothing behind.
async fn writes_need_their_tenant(store: &dyn Store) {
    let put = || vec![Write::Put(user("late", "late@x.test"))];
    let got = store.commit("nobody", put(), vec![created("late")]).await;
    assert_eq!(got, Err(StoreError::NoTenant("nobody".into())));
    assert!(store.tenant("t2").await.unwrap().is_some());
    assert!(store.delete_tenant("t2").await.unwrap());
    let got = store.commit("t2", put(), vec![created("late")]).await;
    assert_eq!(got, Err(StoreError::NoTenant("t2".into())));
    for tenant in ["nobody", "t2"] {
        let users = store.page(tenant, ResourceType::User, None, 10).await;
        assert_eq!(users.unwrap(), vec![], "{tenant}");
        let events = store.events(tenant, EventCursor::START, 10).await;
        assert_eq!(events.unwrap().len(), 0, "{tenant}");
    }
}

/// A taken `userName` is a conflict naming it, not a backend failure.
pub async fn conflict_is_not_a_backend_failure(store: &dyn Store) {
    register_tenants(store).await;
    store
        .commit("t", vec![Write::Put(user("a", "x@y.z"))], vec![])
        .await
        .unwrap();
    let err = store
        .commit("t", vec![Write::Put(user("b", "X@Y.Z"))], vec![])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict("userName".into()));
}

fn with_external(r: StoredResource, external_id: &str) -> StoredResource {
    let mut body = r.body.clone();
    body["externalId"] = json!(external_id);
    StoredResource { body, ..r }
}

fn ids_of(v: &[StoredResource]) -> Vec<String> {
    v.iter().map(|r| r.id.clone()).collect()
}

/// Every resource of a kind, in creation order, through `query`.
async fn all_in_order(store: &dyn Store, tenant: &str, rt: ResourceType) -> Vec<StoredResource> {
    let q = ResourceQuery {
        filter: None,
        offset: 0,
        limit: usize::MAX,
    };
    store.query(tenant, rt, &q).await.unwrap().resources
}

/// `Store::query`: filters on indexed attributes select exactly what
/// `IndexFilter::matches` says (the SQL stores by index), in creation order,
/// with the total, paged by offset; a replaced resource keeps its place;
/// `group_refs` answers a page of users' groups in one call.
pub async fn query_contract(store: &dyn Store) {
    register_tenants(store).await;
    let t = "tq";
    let users = [
        with_external(user("u-c", "Carol@X.test"), "X1"),
        with_external(user("u-a", "ünal@x.test"), "x1"),
        user("u-b", "ÜNA@y.test"),
        with_external(user("u-d", "dave@x.test"), "X10"),
        user("u-e", "e\u{10FFFF}@x.test"),
    ];
    for u in &users {
        store
            .commit(t, vec![Write::Put(u.clone())], vec![])
            .await
            .unwrap();
    }
    let groups = vec![
        Write::Put(with_members("g-2", "Sales EU", &["u-a", "u-c"])),
        Write::Put(with_external(
            with_members("g-1", "sales", &["u-c", "g-2"]),
            "G1",
        )),
    ];
    store.commit(t, groups, vec![]).await.unwrap();
    // Another tenant's resources never show.
    store
        .commit(
            "tq-other",
            vec![Write::Put(user("u-a", "ünal@x.test"))],
            vec![],
        )
        .await
        .unwrap();

    let order = ["u-c", "u-a", "u-b", "u-d", "u-e"];
    assert_eq!(
        ids_of(&all_in_order(store, t, ResourceType::User).await),
        order,
        "creation order, not id order"
    );
    // Replacing a resource keeps its place.
    let renamed = v(with_external(user("u-c", "carol@z.test"), "X1"), 2);
    store
        .commit(t, vec![Write::Put(renamed)], vec![])
        .await
        .unwrap();
    assert_eq!(
        ids_of(&all_in_order(store, t, ResourceType::User).await),
        order
    );

    use IndexOp::{Eq, Sw};
    let cmp = |a, op, v: &str| IndexFilter::Compare(a, op, v.into());
    let and = |a, b| IndexFilter::And(Box::new(a), Box::new(b));
    let or = |a, b| IndexFilter::Or(Box::new(a), Box::new(b));
    let cases: Vec<(ResourceType, IndexFilter, Vec<&str>)> = vec![
        (
            ResourceType::User,
            cmp(IndexedAttr::Key, Eq, "ünal@x.test"),
            vec!["u-a"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::Key, Sw, "üna"),
            vec!["u-a", "u-b"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::Key, Sw, ""),
            order.to_vec(),
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::Key, Sw, "e\u{10FFFF}"),
            vec!["u-e"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::Key, Eq, "carol@x.test"),
            vec![],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::ExternalId, Eq, "X1"),
            vec!["u-c"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::ExternalId, Sw, "X1"),
            vec!["u-c", "u-d"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::ExternalId, Sw, "x"),
            vec!["u-a"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::Id, Eq, "u-b"),
            vec!["u-b"],
        ),
        (
            ResourceType::User,
            cmp(IndexedAttr::Id, Sw, "u-"),
            order.to_vec(),
        ),
        (ResourceType::User, cmp(IndexedAttr::Id, Eq, "g-1"), vec![]),
        (
            ResourceType::User,
            or(
                cmp(IndexedAttr::Id, Eq, "u-d"),
                cmp(IndexedAttr::Key, Sw, "carol"),
            ),
            vec!["u-c", "u-d"],
        ),
        (
            ResourceType::User,
            and(
                cmp(IndexedAttr::Key, Sw, "ü"),
                cmp(IndexedAttr::ExternalId, Eq, "x1"),
            ),
            vec!["u-a"],
        ),
        (
            ResourceType::Group,
            cmp(IndexedAttr::Key, Eq, "sales eu"),
            vec!["g-2"],
        ),
        (
            ResourceType::Group,
            cmp(IndexedAttr::Key, Sw, "sales"),
            vec!["g-2", "g-1"],
        ),
        (
            ResourceType::Group,
            cmp(IndexedAttr::ExternalId, Eq, "G1"),
            vec!["g-1"],
        ),
        (
            ResourceType::Group,
            IndexFilter::HasMember("u-c".into()),
            vec!["g-2", "g-1"],
        ),
        (
            ResourceType::Group,
            IndexFilter::HasMember("g-2".into()),
            vec!["g-1"],
        ),
        (
            ResourceType::Group,
            IndexFilter::HasMember("u-b".into()),
            vec![],
        ),
        (
            ResourceType::Group,
            and(
                IndexFilter::HasMember("u-a".into()),
                cmp(IndexedAttr::Id, Eq, "g-2"),
            ),
            vec!["g-2"],
        ),
        (
            ResourceType::Group,
            or(
                IndexFilter::HasMember("u-a".into()),
                cmp(IndexedAttr::Id, Eq, "g-1"),
            ),
            vec!["g-2", "g-1"],
        ),
        (
            ResourceType::User,
            IndexFilter::HasMember("u-c".into()),
            vec![],
        ),
    ];
    for (rt, f, want) in &cases {
        let q = ResourceQuery {
            filter: Some(f),
            offset: 0,
            limit: 100,
        };
        let page = store.query(t, *rt, &q).await.unwrap();
        assert_eq!(ids_of(&page.resources), *want, "{f:?}");
        assert_eq!(page.total, want.len(), "{f:?}");
        // The store selects what the filter's own evaluation says.
        let by_eval: Vec<String> = all_in_order(store, t, *rt)
            .await
            .into_iter()
            .filter(|r| f.matches(r))
            .map(|r| r.id)
            .collect();
        assert_eq!(by_eval, *want, "IndexFilter::matches of {f:?}");
        // A page of one from the second, and past the end: the total stays.
        let q = ResourceQuery {
            offset: 1,
            limit: 1,
            ..q
        };
        let page = store.query(t, *rt, &q).await.unwrap();
        assert_eq!(
            ids_of(&page.resources),
            want.iter().skip(1).take(1).cloned().collect::<Vec<_>>()
        );
        assert_eq!(page.total, want.len(), "{f:?} from 1");
        let q = ResourceQuery { offset: 99, ..q };
        let page = store.query(t, *rt, &q).await.unwrap();
        assert!(page.resources.is_empty());
        assert_eq!(page.total, want.len(), "{f:?} past the end");
    }
    let count_only = ResourceQuery {
        filter: None,
        offset: 0,
        limit: 0,
    };
    let page = store
        .query(t, ResourceType::User, &count_only)
        .await
        .unwrap();
    assert_eq!((page.total, page.resources.len()), (5, 0));

    // The groups of several members at once, with the group's name as sent.
    let refs = store
        .group_refs(t, &["u-c".into(), "u-b".into(), "g-2".into(), "u-a".into()])
        .await
        .unwrap();
    let refs: Vec<(&str, &str, &str)> = refs
        .iter()
        .map(|g| {
            (
                g.member_id.as_str(),
                g.group_id.as_str(),
                g.display_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            ("g-2", "g-1", "sales"),
            ("u-a", "g-2", "Sales EU"),
            ("u-c", "g-1", "sales"),
            ("u-c", "g-2", "Sales EU"),
        ]
    );
    // Membership follows a member list edited in place, and a rename shows.
    let g2 = v(with_members("g-2", "Sales Europe", &["u-c", "u-d"]), 2);
    store.commit(t, vec![Write::Put(g2)], vec![]).await.unwrap();
    let refs = store
        .group_refs(t, &["u-a".into(), "u-d".into()])
        .await
        .unwrap();
    assert_eq!(
        refs.iter()
            .map(|g| (g.member_id.as_str(), g.display_name.as_str()))
            .collect::<Vec<_>>(),
        [("u-d", "Sales Europe")]
    );
    let member_a = IndexFilter::HasMember("u-a".into());
    let q = ResourceQuery {
        filter: Some(&member_a),
        offset: 0,
        limit: 10,
    };
    assert_eq!(
        store.query(t, ResourceType::Group, &q).await.unwrap().total,
        0
    );
}

/// Paging by offset while resources are created between the pages (with
/// ids that sort before every existing one) and others replaced: every
/// resource that existed throughout is read exactly once.
pub async fn paging_is_stable_under_inserts(store: &dyn Store) {
    register_tenants(store).await;
    let t = "tp";
    let mut seeded = Vec::new();
    for i in 0..60 {
        let id = format!("m-{i:03}");
        store
            .commit(
                t,
                vec![Write::Put(user(&id, &format!("{id}@x.test")))],
                vec![],
            )
            .await
            .unwrap();
        seeded.push(id);
    }
    let mut read = Vec::new();
    let mut offset = 0;
    let mut added = 0;
    loop {
        let q = ResourceQuery {
            filter: None,
            offset,
            limit: 7,
        };
        let page = store.query(t, ResourceType::User, &q).await.unwrap();
        offset += page.resources.len();
        read.extend(ids_of(&page.resources));
        if page.resources.len() < 7 {
            break;
        }
        // Between pages: two new users whose ids sort first, and an update
        // of one already read.
        for _ in 0..2 {
            added += 1;
            let id = format!("a-{added:03}");
            let u = user(&id, &format!("{id}@x.test"));
            store.commit(t, vec![Write::Put(u)], vec![]).await.unwrap();
        }
        let again = store
            .get(t, ResourceType::User, &read[0])
            .await
            .unwrap()
            .unwrap();
        let renamed = StoredResource {
            body: json!({"userName": format!("{}-{offset}@x.test", again.id)}),
            version: again.version + 1,
            ..again
        };
        store
            .commit(t, vec![Write::Put(renamed)], vec![])
            .await
            .unwrap();
        assert!(added < 200, "paging does not end");
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in &read {
        assert!(seen.insert(id.clone()), "{id} read twice");
    }
    for id in &seeded {
        assert!(seen.contains(id), "{id} skipped");
    }
    assert_eq!(
        read[..60],
        seeded[..],
        "the seeded users first, in creation order"
    );
}

async fn request(
    service: &ScimService,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/scim/v2/acme{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(bytes::Bytes::from(body.to_string()))
        .unwrap();
    let resp = service.handle(req).await;
    let status = resp.status().as_u16();
    let body = if resp.body().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(resp.body()).unwrap()
    };
    (status, body)
}

/// Lists through the service with at most 4 filter candidates: filters on
/// indexed attributes are answered at any size, the rest over at most 4
/// candidates, else 400 `tooMany`; users come with their groups.
pub async fn service_queries(store: std::sync::Arc<dyn Store>) {
    let config = ServiceConfig {
        max_filter_candidates: 4,
        ..ServiceConfig::default()
    };
    let service = ScimService::with_config(store, config);
    let token = service.create_tenant("acme", "Acme").await.unwrap().token;
    let token = token.expose_secret();
    let mut ids = Vec::new();
    for i in 0..6 {
        let body = format!(
            r#"{{"userName":"User{i}@x.test","externalId":"E{i}","active":{}}}"#,
            i % 2 == 0
        );
        let (status, user) = request(&service, token, "POST", "/Users", &body).await;
        assert_eq!(status, 201, "{user}");
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let body = format!(
        r#"{{"displayName":"Ops","members":[{{"value":"{}"}},{{"value":"{}"}}]}}"#,
        ids[1], ids[4]
    );
    let (status, ops) = request(&service, token, "POST", "/Groups", &body).await;
    assert_eq!(status, 201, "{ops}");
    let ops = ops["id"].as_str().unwrap().to_string();

    let list = |filter: String| {
        let q: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let service = &service;
        async move { request(service, token, "GET", &format!("/Users?filter={q}"), "").await }
    };
    let total = |v: &serde_json::Value| v["totalResults"].as_u64();
    // Indexed: any tenant size.
    let (status, page) = list(r#"userName eq "USER4@x.test""#.into()).await;
    assert_eq!((status, total(&page)), (200, Some(1)), "{page}");
    assert_eq!(page["Resources"][0]["id"], ids[4]);
    assert_eq!(page["Resources"][0]["groups"][0]["value"], ops.as_str());
    assert_eq!(page["Resources"][0]["groups"][0]["display"], "Ops");
    let (status, page) = list(r#"userName sw "user" and externalId sw "E""#.into()).await;
    assert_eq!((status, total(&page)), (200, Some(6)), "{page}");
    let (status, page) = list(format!(r#"id eq "{}" or externalId eq "E5""#, ids[0])).await;
    assert_eq!((status, total(&page)), (200, Some(2)), "{page}");
    assert_eq!(
        (
            page["Resources"][0]["id"].clone(),
            page["Resources"][1]["id"].clone()
        ),
        (json!(ids[0]), json!(ids[5]))
    );
    // externalId is case-exact.
    let (status, page) = list(r#"externalId eq "e1""#.into()).await;
    assert_eq!((status, total(&page)), (200, Some(0)), "{page}");
    // A non-indexed part over few candidates is evaluated exactly...
    let (status, page) = list(r#"userName sw "user1" and active eq false"#.into()).await;
    assert_eq!((status, total(&page)), (200, Some(1)), "{page}");
    let (status, page) = list(r#"externalId eq "E2" and active eq false"#.into()).await;
    assert_eq!((status, total(&page)), (200, Some(0)), "{page}");
    let (status, page) = list(format!(r#"id eq "{}" and groups.value eq "{ops}""#, ids[1])).await;
    assert_eq!((status, total(&page)), (200, Some(1)), "{page}");
    // ...over more than 4 it is tooMany, as is a filter naming no index.
    for filter in [
        r#"userName sw "user" and active eq true"#,
        "active eq true",
        r#"userName eq "User1@x.test" or active eq true"#,
        r#"not (userName eq "User1@x.test")"#,
    ] {
        let (status, err) = list(filter.into()).await;
        assert_eq!(status, 400, "{filter}: {err}");
        assert_eq!(err["scimType"], "tooMany", "{filter}");
    }
    // The one group is few enough to filter on anything; by member by index.
    let groups = |filter: &str| {
        let q: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let service = &service;
        async move { request(service, token, "GET", &format!("/Groups?filter={q}"), "").await }
    };
    let (status, page) = groups(r#"displayName co "p""#).await;
    assert_eq!((status, total(&page)), (200, Some(1)), "{page}");
    let (status, page) = groups(&format!(r#"members[value eq "{}"]"#, ids[4])).await;
    assert_eq!((status, total(&page)), (200, Some(1)), "{page}");
    let (status, page) = groups(&format!(r#"members.value eq "{}""#, ids[0])).await;
    assert_eq!((status, total(&page)), (200, Some(0)), "{page}");
    // Unfiltered pages in creation order, counted by the store; .search
    // pages over users, then groups.
    let (status, page) = request(&service, token, "GET", "/Users?startIndex=5&count=3", "").await;
    assert_eq!((status, total(&page)), (200, Some(6)));
    let got: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[5].as_str()]);
    let search = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "startIndex":6,"count":5}"#;
    let (status, page) = request(&service, token, "POST", "/.search", search).await;
    assert_eq!((status, total(&page)), (200, Some(7)), "{page}");
    let got: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[5].as_str(), ops.as_str()]);
}
