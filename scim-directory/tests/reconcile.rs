//! A SCIM-fed directory reconciles exactly like a pulled one: the same people
//! pushed by Okta-shaped requests and held by an in-memory (pulled)
//! directory give the same recipient-reconcile plan, before and after a
//! change.

mod common;

use common::Harness;
use directory_core::{
    AppAssignment, CollectOptions, DirectoryGroup, DirectoryUser, InMemoryDirectory, Membership,
    Snapshot, UserStatus,
};
use http::Method;
use recipient_reconcile::{
    apply, reconcile, Attribute, HostData, HostLocation, Location, Mapping, Plan, Policy,
    Recipient, Scope, Source,
};
use serde_json::json;

struct Person {
    email: &'static str,
    given: &'static str,
    family: &'static str,
    department: &'static str,
    active: bool,
    group: &'static str,
}

const PEOPLE: &[Person] = &[
    Person {
        email: "ada@acme.test",
        given: "Ada",
        family: "Lovelace",
        department: "R&D",
        active: true,
        group: "Berlin",
    },
    Person {
        email: "bob@acme.test",
        given: "Bob",
        family: "Byte",
        department: "Ops",
        active: true,
        group: "Berlin",
    },
    Person {
        email: "cy@acme.test",
        given: "Cy",
        family: "Press",
        department: "Ops",
        active: false,
        group: "Paris",
    },
    Person {
        email: "di@acme.test",
        given: "Di",
        family: "Git",
        department: "Sales",
        active: true,
        group: "Paris",
    },
];

/// Pushes everyone the way Okta does; returns the user ids and group ids.
fn push(h: &Harness) -> (Vec<String>, Vec<(String, &'static str)>) {
    let mut ids = Vec::new();
    for p in PEOPLE {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": p.email, "active": true,
            "name": {"givenName": p.given, "familyName": p.family},
            "emails": [{"primary": true, "value": p.email, "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": p.department},
        });
        let id = h.send(Method::POST, "/Users", &body.to_string()).id();
        if !p.active {
            let off = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}"#;
            assert_eq!(
                h.send(Method::PATCH, &format!("/Users/{id}"), off).status,
                200
            );
        }
        ids.push(id);
    }
    let mut groups = Vec::new();
    for name in ["Berlin", "Paris"] {
        let g = h
            .send(
                Method::POST,
                "/Groups",
                &json!({"displayName": name, "members": []}).to_string(),
            )
            .id();
        let members: Vec<_> = PEOPLE
            .iter()
            .zip(&ids)
            .filter(|(p, _)| p.group == name)
            .map(|(_, id)| json!({"value": id}))
            .collect();
        let add = json!({"Operations": [{"op": "add", "path": "members", "value": members}]});
        assert_eq!(
            h.send(Method::PATCH, &format!("/Groups/{g}"), &add.to_string())
                .status,
            204
        );
        groups.push((g, name));
    }
    (ids, groups)
}

/// The same directory as a pull from the IdP's API would give it.
fn pulled_directory(
    ids: &[String],
    groups: &[(String, &str)],
    department_of_ada: &str,
) -> InMemoryDirectory {
    let mut b = InMemoryDirectory::builder("acme").page_size(2);
    for (p, id) in PEOPLE.iter().zip(ids) {
        let mut u = DirectoryUser::new(id, p.email).with_email(p.email, true);
        u.name.given_name = Some(p.given.into());
        u.name.family_name = Some(p.family.into());
        u.department = Some(
            if p.email.starts_with("ada") {
                department_of_ada
            } else {
                p.department
            }
            .into(),
        );
        u.status = if p.active {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        };
        if p.active {
            b = b.app_assignment(AppAssignment::direct(id));
        }
        b = b.user(u);
    }
    for (gid, name) in groups {
        b = b.group(DirectoryGroup::new(gid, *name));
        for (_, id) in PEOPLE.iter().zip(ids).filter(|(p, _)| p.group == *name) {
            b = b.membership(Membership::direct(gid, id));
        }
    }
    b.build()
}

fn policy(groups: &[(String, &str)]) -> Policy {
    Policy {
        scope: Scope::groups(
            groups
                .iter()
                .map(|(g, name)| (g.clone(), if *name == "Berlin" { "ber" } else { "par" })),
        ),
        mapping: Mapping::default().field("department", Attribute::Department),
        ..Policy::default()
    }
}

fn host(cy: &str) -> HostData {
    HostData {
        locations: vec![
            HostLocation {
                location: Location::new("ber", "Berlin"),
                records: vec![
                    Recipient::new("r1", "ber", Source::Directory, "left@acme.test")
                        .with_external_id("00u-gone"),
                    Recipient::new("r2", "ber", Source::Csv, "walk-in@acme.test"),
                ],
            },
            HostLocation {
                location: Location::new("par", "Paris"),
                records: vec![
                    Recipient::new("r3", "par", Source::Directory, "cy@acme.test")
                        .with_external_id(cy),
                ],
            },
        ],
        users: vec![],
    }
}

/// A plan without what names its source.
fn comparable(plan: Plan) -> Plan {
    Plan {
        provider: String::new(),
        hash: String::new(),
        ..plan
    }
}

async fn scim_fed_snapshot_reconciles_exactly_like_a_pulled_one(h: Harness) {
    let (ids, groups) = push(&h);
    let opts = CollectOptions::default();
    let scim_dir = h.service.directory("acme").await.unwrap().with_page_size(2);
    let pushed = Snapshot::collect(&scim_dir, &opts).await.unwrap();
    let pulled_dir = pulled_directory(&ids, &groups, "R&D");
    let pulled = Snapshot::collect(&pulled_dir, &opts).await.unwrap();
    assert_eq!(pushed.memberships, pulled.memberships);
    assert_eq!(pushed.app_assignments, pulled.app_assignments);

    let policy = policy(&groups);
    let mut records = host(&ids[2]);
    let plan = reconcile(&pushed, &policy, &records).unwrap();
    assert_eq!(
        comparable(plan.clone()),
        comparable(reconcile(&pulled, &policy, &records).unwrap())
    );
    assert_eq!(
        (plan.counts.creates, plan.counts.deactivations),
        (3, 2),
        "{}",
        plan.counts
    );

    // The host applies the plan; then Entra-style PATCH changes Ada's department.
    apply(&mut records, &plan).unwrap();
    assert!(reconcile(&pushed, &policy, &records)
        .unwrap()
        .locations
        .iter()
        .all(|l| l.is_empty()));
    let patch = r#"{"Operations":[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Research"}]}"#;
    assert_eq!(
        h.send(Method::PATCH, &format!("/Users/{}", ids[0]), patch)
            .status,
        200
    );
    let pushed = Snapshot::collect(&scim_dir, &opts).await.unwrap();
    let pulled = Snapshot::collect(&pulled_directory(&ids, &groups, "Research"), &opts)
        .await
        .unwrap();
    let next = reconcile(&pushed, &policy, &records).unwrap();
    assert_eq!(
        comparable(next.clone()),
        comparable(reconcile(&pulled, &policy, &records).unwrap())
    );
    assert_eq!(
        (
            next.counts.updates,
            next.counts.creates,
            next.counts.deactivations
        ),
        (1, 0, 0)
    );
}

on_every_store!(async: scim_fed_snapshot_reconciles_exactly_like_a_pulled_one);
