//! Helpers shared by the integration tests.
#![allow(dead_code)]

use directory_core::{DirectoryGroup, DirectoryUser, Membership, Snapshot, UserStatus};
use recipient_reconcile::{
    apply, reconcile, HostData, HostLocation, Location, Operation, Plan, Policy, Recipient,
};

/// An active user with an email and a name.
pub fn user(id: &str, email: &str) -> DirectoryUser {
    let mut u = DirectoryUser::new(id, email).with_email(email, true);
    u.name.given_name = Some(format!("Given {id}").into());
    u.name.family_name = Some(format!("Family {id}").into());
    u
}

/// A user with the given status.
pub fn with_status(mut u: DirectoryUser, status: UserStatus) -> DirectoryUser {
    u.status = status;
    u
}

/// A snapshot of users only.
pub fn snap(users: Vec<DirectoryUser>) -> Snapshot {
    Snapshot::from_parts("test", users, vec![], vec![], vec![])
}

/// A snapshot with groups given as (group id, member ids).
pub fn snap_groups(users: Vec<DirectoryUser>, groups: &[(&str, &[&str])]) -> Snapshot {
    let gs = groups
        .iter()
        .map(|(g, _)| DirectoryGroup::new(*g, format!("group {g}")))
        .collect();
    let ms = groups
        .iter()
        .flat_map(|(g, members)| members.iter().map(move |m| Membership::direct(*g, *m)))
        .collect();
    Snapshot::from_parts("test", users, gs, ms, vec![])
}

/// Host data: locations (id = name) with records.
pub fn host(locations: Vec<(&str, Vec<Recipient>)>) -> HostData {
    HostData {
        locations: locations
            .into_iter()
            .map(|(id, records)| HostLocation {
                location: Location::new(id, id.to_uppercase()),
                records,
            })
            .collect(),
        users: vec![],
    }
}

/// A directory record linked to a user, with the default mapping's fields.
pub fn synced(record_id: &str, location: &str, user_id: &str, email: &str) -> Recipient {
    Recipient::new(
        record_id,
        location,
        recipient_reconcile::Source::Directory,
        email,
    )
    .with_external_id(user_id)
    .with_field("given_name", format!("Given {user_id}"))
    .with_field("family_name", format!("Family {user_id}"))
}

/// Reconciles, panicking on error.
pub fn plan(s: &Snapshot, p: &Policy, h: &HostData) -> Plan {
    reconcile(s, p, h).expect("reconcile")
}

/// Reconciles, applies, and returns the plan.
pub fn plan_and_apply(s: &Snapshot, p: &Policy, h: &mut HostData) -> Plan {
    let plan = plan(s, p, h);
    apply(h, &plan).expect("apply");
    plan
}

/// The operations' kinds and record or external ids, for compact asserts.
pub fn ops(plan: &Plan) -> Vec<String> {
    plan.operations()
        .map(|op| match op {
            Operation::Create(c) => format!(
                "create {} {}",
                c.location_id,
                c.external_id.as_deref().unwrap_or(&c.email)
            ),
            Operation::Update(c) => format!("update {}", c.record_id),
            Operation::Reactivate(c) => format!("reactivate {}", c.record_id),
            Operation::Deactivate(d) => format!("deactivate {}", d.record_id),
        })
        .collect()
}

/// One user renamed (u1), one new (u2), one gone (u9), in Berlin: a plan
/// with one create, one update and one deactivation.
pub fn small_scenario() -> (Snapshot, HostData) {
    let mut u = user("u1", "a@x.com");
    u.name.given_name = Some("New".into());
    let s = snap(vec![u, user("u2", "b@x.com")]);
    let h = host(vec![(
        "ber",
        vec![
            synced("r1", "ber", "u1", "a@x.com"),
            synced("r9", "ber", "u9", "gone@x.com"),
        ],
    )]);
    (s, h)
}
