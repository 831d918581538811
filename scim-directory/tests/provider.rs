//! The SCIM-fed directory as a `DirectoryProvider`: directory-core's
//! conformance suite over pages of two, and `check()`.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::Harness;
use directory_core::testing::run_conformance;
use directory_core::MembershipKind;
use directory_core::{
    AppAssignment, DirectoryGroup, DirectoryProvider, DirectoryUser, Membership, Snapshot,
    UserStatus,
};
use http::Method;
use scim_directory::{MemoryStore, ScimDirectory};

fn modified(reply: &common::Reply) -> DateTime<Utc> {
    let s = reply.body["meta"]["lastModified"].as_str().unwrap();
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn scim_directory_passes_the_provider_conformance_suite(h: Harness) {
    let mut users = Vec::new();
    let mut assignments = Vec::new();
    for i in 0..5 {
        let active = i != 3;
        let body = format!(
            r#"{{"userName":"u{i}@x.test","active":{active},"title":"T{i}",
                "emails":[{{"value":"u{i}@x.test","type":"work","primary":true}}]}}"#
        );
        let r = h.send(Method::POST, "/Users", &body);
        let mut u = DirectoryUser::new(r.id(), format!("u{i}@x.test"))
            .with_email(format!("u{i}@x.test"), true);
        u.title = Some(format!("T{i}").into());
        u.status = if active {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        };
        u.last_updated = Some(modified(&r));
        if active {
            assignments.push(AppAssignment::direct(&u.id));
        }
        users.push(u);
    }
    let members = format!(
        r#"[{{"value":"{}"}},{{"value":"{}"}}]"#,
        users[0].id, users[1].id
    );
    let g1 = h.send(
        Method::POST,
        "/Groups",
        &format!(r#"{{"displayName":"One","members":{members}}}"#),
    );
    let g2 = h.send(Method::POST, "/Groups", r#"{"displayName":"Empty"}"#);
    // One is nested in Empty: its users are Empty's transitive members.
    let nest = format!(
        r#"{{"Operations":[{{"op":"add","path":"members","value":[{{"value":"{}"}}]}}]}}"#,
        g1.id()
    );
    let path = format!("/Groups/{}", g2.id());
    assert_eq!(h.send(Method::PATCH, &path, &nest).status, 204);
    let g2 = h.get(&path);
    let group = |r: &common::Reply, name: &str| {
        let mut g = DirectoryGroup::new(r.id(), name);
        g.last_updated = Some(modified(r));
        g
    };
    let (u0, u1) = (users[0].id.clone(), users[1].id.clone());
    let expected = Snapshot::from_parts(
        "scim(acme)",
        users,
        vec![group(&g1, "One"), group(&g2, "Empty")],
        vec![
            Membership::direct(g1.id(), &u0),
            Membership::direct(g1.id(), &u1),
            Membership {
                group_id: g2.id(),
                user_id: u0.clone(),
                kind: MembershipKind::Transitive,
            },
            Membership {
                group_id: g2.id(),
                user_id: u1.clone(),
                kind: MembershipKind::Transitive,
            },
        ],
        assignments,
    );
    let dir = h.service.directory("acme").await.unwrap().with_page_size(2);
    let report = run_conformance(&dir, &expected, 3).await;
    assert_eq!(report.user_pages, 3);
}

async fn check_reports_a_missing_tenant(h: Harness) {
    assert!(h
        .service
        .directory("acme")
        .await
        .unwrap()
        .check()
        .await
        .is_ok());
    assert!(h.service.directory("ghost").await.is_err());
    let ghost = ScimDirectory::new(Arc::new(MemoryStore::new()), "ghost");
    let report = ghost.check().await;
    assert!(!report.is_ok());
    assert_eq!(report.problems().count(), 1);
    assert_eq!(ghost.to_string(), "scim(ghost)");
}

async fn nested_group_cycles_end_and_direct_wins_over_transitive(h: Harness) {
    use futures::TryStreamExt;
    let u = h
        .send(Method::POST, "/Users", r#"{"userName":"u@x.test"}"#)
        .id();
    let v = h
        .send(Method::POST, "/Users", r#"{"userName":"v@x.test"}"#)
        .id();
    let a = h
        .send(
            Method::POST,
            "/Groups",
            &format!(r#"{{"displayName":"A","members":[{{"value":"{u}"}}]}}"#),
        )
        .id();
    let b = h.send(
        Method::POST,
        "/Groups",
        &format!(r#"{{"displayName":"B","members":[{{"value":"{a}"}},{{"value":"{u}"}},{{"value":"{v}"}}]}}"#),
    );
    let b = b.id();
    let cycle = format!(
        r#"{{"Operations":[{{"op":"add","path":"members","value":[{{"value":"{b}"}}]}}]}}"#
    );
    assert_eq!(
        h.send(Method::PATCH, &format!("/Groups/{a}"), &cycle)
            .status,
        204
    );
    let dir = h.service.directory("acme").await.unwrap();
    let got: Vec<Membership> = dir.group_members(&a).try_concat().await.unwrap();
    let mut want = vec![
        Membership::direct(&a, &u),
        Membership {
            group_id: a.clone(),
            user_id: v.clone(),
            kind: MembershipKind::Transitive,
        },
    ];
    want.sort();
    assert_eq!(got, want);
}

on_every_store!(
    async: scim_directory_passes_the_provider_conformance_suite,
    check_reports_a_missing_tenant,
    nested_group_cycles_end_and_direct_wins_over_transitive,
);
