//! The ways to plan agree: `reconcile` and `Reconciler::finish` give the
//! same plan, and the SSO candidates agree with the plan's conflicts.

mod common;

use common::*;
use directory_core::{AppAssignment, Snapshot};
use recipient_reconcile::{
    sso_candidates, ConflictKind, HostData, Plan, Policy, Reconciler, Scope,
};

fn via_reconciler(s: &Snapshot, p: &Policy, h: &HostData) -> Plan {
    let r = Reconciler::new(s, p).unwrap();
    let outcomes: Vec<_> = h
        .locations
        .iter()
        .map(|l| r.plan_location(&l.location, &l.records))
        .collect();
    r.finish(outcomes, &h.users).unwrap()
}

#[test]
fn reconcile_and_the_reconciler_give_the_same_plan_and_hash() {
    // The mapping names a location (muc) the host does not have.
    let s = snap_groups(
        vec![user("u1", "a@x.com"), user("u2", "b@x.com")],
        &[("g1", &["u1"]), ("g2", &["u2"])],
    );
    let policy = Policy {
        scope: Scope::groups([("g1", "ber"), ("g2", "muc")]),
        ..Policy::default()
    };
    let h = host(vec![("ber", vec![synced("r9", "ber", "u9", "gone@x.com")])]);
    let p = plan(&s, &policy, &h);
    assert_eq!(
        p.warnings,
        ["the group mapping names locations the host does not have: muc"]
    );
    assert_eq!(via_reconciler(&s, &policy, &h), p);
    assert!(p.verify());
}

#[test]
fn the_plan_does_not_depend_on_the_order_of_the_host_locations() {
    let (s, mut h) = small_scenario();
    h.locations
        .push(host(vec![("par", vec![synced("p1", "par", "u1", "a@x.com")])]).locations[0].clone());
    let p = plan(&s, &Policy::default(), &h);
    h.locations.reverse();
    let q = plan(&s, &Policy::default(), &h);
    assert_eq!(q, p);
    let ids: Vec<_> = p.locations.iter().map(|l| l.location_id.as_str()).collect();
    assert_eq!(ids, ["ber", "par"], "sorted by location id");
}

#[test]
fn sso_candidates_leave_out_users_the_plan_holds_in_a_duplicate_email_conflict() {
    let users = vec![
        user("u1", "Same@x.com"),
        user("u2", "same@x.com"),
        user("u3", "c@x.com"),
    ];
    let assignments = ["u1", "u2", "u3"].map(AppAssignment::direct).to_vec();
    let s = Snapshot::from_parts("test", users, vec![], vec![], assignments);
    let policy = Policy::default();
    let p = plan(&s, &policy, &host(vec![("ber", vec![])]));
    assert_eq!(p.conflicts[0].kind, ConflictKind::DuplicateEmail);
    assert_eq!(p.conflicts[0].user_ids, ["u1", "u2"]);
    let offered: Vec<_> = p
        .sso_candidates
        .iter()
        .map(|c| c.user_id.as_str())
        .collect();
    assert_eq!(offered, ["u3"]);
    assert_eq!(sso_candidates(&s, &policy, &[]), p.sso_candidates);
}
