//! The contract every [`Store`] meets, run against each store.
#![allow(dead_code)]

use chrono::Utc;
use scim_directory::{Change, EventCursor, ResourceType, Store, StoreError, StoredResource, Write};
use serde_json::json;

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

/// `r` at version `n`.
pub fn v(r: StoredResource, n: u64) -> StoredResource {
    StoredResource { version: n, ..r }
}

pub fn created(id: &str) -> Change {
    Change::UserDeleted { user_id: id.into() }
}

pub async fn contract(store: &dyn Store) {
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
}

/// A taken `userName` is a conflict naming it, not a backend failure.
pub async fn conflict_is_not_a_backend_failure(store: &dyn Store) {
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
