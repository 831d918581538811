//! The change log: read from a cursor in pages, per tenant, in commit order;
//! concurrent writers never break `userName` uniqueness.

mod common;

use std::sync::Arc;

use common::{kinds, Harness};
use http::Method;
use scim_directory::{Change, EventCursor};

fn events_are_read_from_a_cursor_page_by_page(h: Harness) {
    for i in 0..5 {
        h.send(
            Method::POST,
            "/Users",
            &format!(r#"{{"userName":"u{i}@x.test"}}"#),
        );
    }
    common::run(h.service.create_tenant("globex", "Globex")).unwrap();
    let mut cursor = EventCursor::START;
    let mut seen = Vec::new();
    loop {
        let page = common::run(h.service.events("acme", cursor, 2)).unwrap();
        assert!(page.events.len() <= 2);
        if page.events.is_empty() {
            assert_eq!(page.next, cursor, "an empty page keeps the cursor");
            break;
        }
        cursor = page.next;
        seen.extend(page.events);
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    let names: Vec<String> = seen
        .iter()
        .map(|e| match &e.change {
            Change::UserCreated { user } => user.user_name.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "u0@x.test",
            "u1@x.test",
            "u2@x.test",
            "u3@x.test",
            "u4@x.test"
        ]
    );
    let globex = h.service.events("globex", EventCursor::START, 10);
    let globex = common::run(globex).unwrap();
    assert!(globex.events.is_empty());
}

fn events_serialize_with_a_type_tag(mut h: Harness) {
    let id = h
        .send(Method::POST, "/Users", r#"{"userName":"a@x.test"}"#)
        .id();
    h.send(Method::DELETE, &format!("/Users/{id}"), "");
    let changes = h.new_changes();
    assert_eq!(kinds(&changes), ["user_created", "user_deleted"]);
    let json = serde_json::to_value(&changes[1]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "user_deleted", "user_id": id})
    );
}

fn concurrent_creates_of_one_user_name_make_exactly_one_user(h: Harness) {
    {
        let h = Arc::new(h);
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let h = h.clone();
                std::thread::spawn(move || {
                    let name = if i % 2 == 0 {
                        "Same@x.test"
                    } else {
                        "same@X.TEST"
                    };
                    h.send(
                        Method::POST,
                        "/Users",
                        &format!(r#"{{"userName":"{name}"}}"#),
                    )
                    .status
                    .as_u16()
                })
            })
            .collect();
        let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
        assert_eq!(h.get("/Users").body["totalResults"], 1);
    }
}

on_every_store!(
    sync: events_are_read_from_a_cursor_page_by_page,
    events_serialize_with_a_type_tag,
    concurrent_creates_of_one_user_name_make_exactly_one_user,
);
