//! One test per policy switch: scope, statuses, ownership, deactivation,
//! mapping, protection, SSO filter.

mod common;

use common::*;
use directory_core::{AppAssignment, Snapshot, UserStatus};
use recipient_reconcile::{
    Attribute, ConflictKind, HostUser, Mapping, Operation, Policy, Reason, Recipient, Scope, Source,
};

#[test]
fn all_to_all_puts_every_present_user_in_every_location() {
    let s = snap(vec![user("u1", "a@x.com"), user("u2", "b@x.com")]);
    let h = host(vec![("ber", vec![]), ("par", vec![])]);
    let p = plan(&s, &Policy::default(), &h);
    assert_eq!(
        ops(&p),
        [
            "create ber u1",
            "create ber u2",
            "create par u1",
            "create par u2"
        ]
    );
    let Operation::Create(c) = &p.locations[0].operations[0] else {
        panic!("not a create")
    };
    assert_eq!(c.source, Source::Directory);
    assert_eq!(c.fields["given_name"], "Given u1");
    assert_eq!(c.reason, Reason::NewInDirectory);
}

#[test]
fn group_scope_lands_a_user_once_per_mapped_location() {
    let s = snap_groups(
        vec![
            user("u1", "a@x.com"),
            user("u2", "b@x.com"),
            user("u3", "c@x.com"),
        ],
        &[("g1", &["u1", "u2"]), ("g2", &["u1"]), ("g3", &["u3"])],
    );
    let policy = Policy {
        // g1 and g2 both map to Berlin; g1 also maps to Paris; g3 to nothing here.
        scope: Scope::groups([("g1", "ber"), ("g2", "ber"), ("g1", "par")]),
        ..Policy::default()
    };
    let h = host(vec![("ber", vec![]), ("par", vec![])]);
    let p = plan(&s, &policy, &h);
    assert_eq!(
        ops(&p),
        [
            "create ber u1",
            "create ber u2",
            "create par u1",
            "create par u2"
        ]
    );
}

#[test]
fn group_scope_counts_members_of_nested_groups() {
    let mut s = snap_groups(vec![user("u1", "a@x.com")], &[("g-parent", &[])]);
    s.memberships.push(directory_core::Membership {
        group_id: "g-parent".into(),
        user_id: "u1".into(),
        kind: directory_core::MembershipKind::Transitive,
    });
    let policy = Policy {
        scope: Scope::groups([("g-parent", "ber")]),
        ..Policy::default()
    };
    assert_eq!(
        ops(&plan(&s, &policy, &host(vec![("ber", vec![])]))),
        ["create ber u1"]
    );
}

#[test]
fn group_scope_deactivates_users_who_left_the_group() {
    let s = snap_groups(
        vec![user("u1", "a@x.com"), user("u2", "b@x.com")],
        &[("g1", &["u1"])],
    );
    let policy = Policy {
        scope: Scope::groups([("g1", "ber")]),
        ..Policy::default()
    };
    let h = host(vec![(
        "ber",
        vec![
            synced("r1", "ber", "u1", "a@x.com"),
            synced("r2", "ber", "u2", "b@x.com"),
        ],
    )]);
    let p = plan(&s, &policy, &h);
    assert_eq!(ops(&p), ["deactivate r2"]);
    assert_eq!(p.operations().next().unwrap().reason(), &Reason::OutOfScope);
}

#[test]
fn statuses_that_do_not_count_as_present_deactivate() {
    let s = snap(vec![
        user("u1", "a@x.com"),
        with_status(user("u2", "b@x.com"), UserStatus::Suspended),
        with_status(user("u3", "c@x.com"), UserStatus::Suspended),
    ]);
    let h = host(vec![("ber", vec![synced("r2", "ber", "u2", "b@x.com")])]);
    let p = plan(&s, &Policy::default(), &h);
    assert_eq!(ops(&p), ["create ber u1", "deactivate r2"]);
    assert_eq!(
        p.locations[0].operations[1].reason(),
        &Reason::StatusNotPresent {
            status: UserStatus::Suspended
        }
    );

    let mut policy = Policy::default();
    policy.present_statuses.insert(UserStatus::Suspended);
    let p = plan(&s, &policy, &h);
    assert_eq!(ops(&p), ["create ber u1", "create ber u3"]);
}

#[test]
fn the_directory_adopts_csv_records_only_when_allowed() {
    let s = snap(vec![user("u1", "Ada@X.com")]);
    let csv = Recipient::new("r1", "ber", Source::Csv, "ada@x.com").with_field("room", "12");
    let mut h = host(vec![("ber", vec![csv])]);

    let p = plan(&s, &Policy::default(), &h);
    assert!(
        p.is_empty(),
        "no create beside the CSV record: {:?}",
        ops(&p)
    );
    let c = &p.locations[0].conflicts[0];
    assert_eq!(c.kind, ConflictKind::NotAdoptable);
    assert_eq!(
        (c.user_ids.as_slice(), c.record_ids.as_slice()),
        (&["u1".to_string()][..], &["r1".to_string()][..])
    );

    let mut policy = Policy::default();
    policy.ownership.directory_updates_csv = true;
    let p = plan_and_apply(&s, &policy, &mut h);
    let Some(Operation::Update(u)) = p.operations().next() else {
        panic!("{:?}", ops(&p))
    };
    assert!(u.link);
    assert_eq!(u.reason, Reason::AdoptCsvRecord);
    let r = &h.locations[0].records[0];
    assert!(r.adopted && r.directory_owned());
    assert_eq!(r.external_id.as_deref(), Some("u1"));
    assert_eq!(r.fields["room"], "12", "host fields stay");
    assert!(plan(&s, &policy, &h).is_empty());

    // Once adopted, the directory owns it: the user leaving deactivates it.
    let gone = snap(vec![user("u9", "z@x.com")]);
    assert_eq!(
        ops(&plan(&gone, &policy, &h)),
        ["create ber u9", "deactivate r1"]
    );
}

#[test]
fn the_directory_adopts_manual_records_only_when_allowed() {
    let s = snap(vec![user("u1", "ada@x.com")]);
    let h = host(vec![(
        "ber",
        vec![Recipient::new("r1", "ber", Source::Manual, "ada@x.com")],
    )]);
    let mut policy = Policy::default();
    policy.ownership.directory_updates_csv = true;
    let p = plan(&s, &policy, &h);
    assert!(p.is_empty());
    assert_eq!(p.locations[0].conflicts[0].kind, ConflictKind::NotAdoptable);

    policy.ownership.directory_updates_manual = true;
    let p = plan(&s, &policy, &h);
    assert_eq!(ops(&p), ["update r1"]);
    assert_eq!(
        p.operations().next().unwrap().reason(),
        &Reason::AdoptManualRecord
    );
}

#[test]
fn records_the_directory_does_not_own_are_never_deactivated() {
    let s = snap(vec![user("u1", "a@x.com")]);
    let h = host(vec![(
        "ber",
        vec![
            synced("r1", "ber", "u1", "a@x.com"),
            Recipient::new("r2", "ber", Source::Csv, "gone@x.com"),
            Recipient::new("r3", "ber", Source::Manual, "hand@x.com"),
        ],
    )]);
    assert!(plan(&s, &Policy::default(), &h).is_empty());
}

#[test]
fn deactivation_can_be_switched_off() {
    let s = snap(vec![user("u1", "a@x.com")]);
    let h = host(vec![("ber", vec![synced("r9", "ber", "u9", "gone@x.com")])]);
    let policy = Policy {
        deactivate_missing: false,
        ..Policy::default()
    };
    let p = plan(&s, &policy, &h);
    assert_eq!(ops(&p), ["create ber u1"]);
    let skip = &p.locations[0].skips[0];
    assert_eq!(skip.record_id.as_deref(), Some("r9"));
    assert_eq!(skip.reason, Reason::DeactivationDisabled);
}

#[test]
fn protected_records_are_never_deactivated() {
    let s = snap(vec![user("u1", "a@x.com")]);
    let h = host(vec![(
        "ber",
        vec![
            synced("r1", "ber", "u1", "a@x.com"),
            synced("r8", "ber", "u8", "Owner@X.com"),
            synced("r9", "ber", "u9", "breakglass@x.com"),
            synced("r7", "ber", "u7", "leaver@x.com"),
        ],
    )]);
    let mut policy = Policy::default();
    policy.protected.emails.insert("owner@x.com".into());
    policy.protected.record_ids.insert("r9".into());
    let p = plan(&s, &policy, &h);
    assert_eq!(ops(&p), ["deactivate r7"]);
    let skipped: Vec<_> = p.locations[0]
        .skips
        .iter()
        .map(|s| (s.record_id.as_deref().unwrap(), &s.reason))
        .collect();
    assert_eq!(
        skipped,
        [("r8", &Reason::Protected), ("r9", &Reason::Protected)]
    );
}

#[test]
fn mapped_fields_update_with_old_and_new_values() {
    let mut u = user("u1", "a@x.com");
    u.department = Some("Research".into());
    u.custom_attributes
        .insert("badge".into(), serde_json::json!(4711));
    let s = snap(vec![u]);
    let policy = Policy {
        mapping: Mapping::new(Attribute::PrimaryEmail)
            .field("department", Attribute::Department)
            .field("badge", Attribute::Custom("badge".into()))
            .field("title", Attribute::Title),
        ..Policy::default()
    };
    let rec = Recipient::new("r1", "ber", Source::Directory, "A@X.com ")
        .with_external_id("u1")
        .with_field("department", "Sales")
        .with_field("title", "Boss")
        .with_field("room", "3.14");
    let mut h = host(vec![("ber", vec![rec])]);
    let p = plan_and_apply(&s, &policy, &mut h);
    let Some(Operation::Update(c)) = p.operations().next() else {
        panic!("{:?}", ops(&p))
    };
    assert_eq!(c.reason, Reason::AttributesChanged);
    let changes: Vec<_> = c
        .changes
        .iter()
        .map(|f| (f.field.as_str(), f.old.as_deref(), f.new.as_deref()))
        .collect();
    // The email differs only in case and spacing: no change.
    assert_eq!(
        changes,
        [
            ("badge", None, Some("4711")),
            ("department", Some("Sales"), Some("Research")),
            ("title", Some("Boss"), None),
        ]
    );
    assert_eq!(h.locations[0].records[0].fields["room"], "3.14");
    assert!(plan(&s, &policy, &h).is_empty());
}

#[test]
fn the_email_can_come_from_another_attribute() {
    let mut u = user("u1", "ignored@x.com");
    u.user_name = "Ada.Login@X.com".into();
    let s = snap(vec![u]);
    let policy = Policy {
        mapping: Mapping::new(Attribute::UserName),
        ..Policy::default()
    };
    let p = plan(&s, &policy, &host(vec![("ber", vec![])]));
    let Some(Operation::Create(c)) = p.operations().next() else {
        panic!()
    };
    assert_eq!(c.email, "ada.login@x.com");
    assert!(c.fields.is_empty());
}

#[test]
fn users_back_in_the_directory_are_reactivated_with_their_changes() {
    let mut u = user("u1", "a@x.com");
    u.name.given_name = Some("Renamed".into());
    let s = snap(vec![u]);
    let rec = synced("r1", "ber", "u1", "a@x.com").with_active(false);
    let mut h = host(vec![("ber", vec![rec])]);
    let p = plan_and_apply(&s, &Policy::default(), &mut h);
    let Some(Operation::Reactivate(c)) = p.operations().next() else {
        panic!("{:?}", ops(&p))
    };
    assert_eq!(c.reason, Reason::BackInDirectory);
    assert_eq!(c.changes[0].new.as_deref(), Some("Renamed"));
    assert!(h.locations[0].records[0].active);
}

#[test]
fn users_without_email_are_skipped_not_deactivated() {
    let mut u = user("u1", "a@x.com");
    u.emails.clear();
    let s = snap(vec![u, user("u2", "b@x.com")]);
    let h = host(vec![("ber", vec![synced("r1", "ber", "u1", "a@x.com")])]);
    let p = plan(&s, &Policy::default(), &h);
    assert_eq!(ops(&p), ["create ber u2"]);
    assert_eq!(p.locations[0].skips[0].reason, Reason::NoEmail);
    assert_eq!(p.locations[0].skips[0].user_id.as_deref(), Some("u1"));
}

#[test]
fn sso_candidates_follow_the_email_filter_and_skip_host_users() {
    let mut s = snap(vec![
        user("u1", "a@acme.com"),
        user("u2", "b@acme.com"),
        user("u3", "c@gmail.com"),
    ]);
    s.app_assignments = vec![
        AppAssignment::direct("u1"),
        AppAssignment::via_group("u2", "g-sso"),
        AppAssignment::direct("u3"),
    ];
    let mut policy = Policy::default();
    policy.sso_filter.domains.insert("acme.com".into());
    let mut h = host(vec![("ber", vec![])]);
    h.users = vec![HostUser::new("A@acme.com")];
    let p = plan(&s, &policy, &h);
    let ids: Vec<_> = p
        .sso_candidates
        .iter()
        .map(|c| c.user_id.as_str())
        .collect();
    assert_eq!(ids, ["u2"]);
    // Candidates are proposed, never created as users; recipients are separate.
    assert_eq!(p.counts.creates, 3);
}

#[test]
fn a_missing_mapped_group_and_unknown_locations_are_warned_about() {
    let s: Snapshot = snap_groups(vec![user("u1", "a@x.com")], &[("g1", &["u1"])]);
    let policy = Policy {
        scope: Scope::groups([("g1", "ber"), ("g-deleted", "ber"), ("g1", "nowhere")]),
        ..Policy::default()
    };
    let p = plan(&s, &policy, &host(vec![("ber", vec![])]));
    assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("g-deleted"));
    assert!(p.warnings[1].contains("nowhere"));
    assert!(p.verify());
}
