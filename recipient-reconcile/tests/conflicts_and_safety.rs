//! Each conflict kind, and each safety limit with its override.

mod common;

use common::*;
use recipient_reconcile::{
    reconcile, reconcile_with_override, ConflictKind, HostData, Location, LocationDeactivations,
    Policy, Reason, Recipient, ReconcileError, Reconciler, SafetyError, SafetyLimits,
    SafetyOverride, Scope, Source,
};

#[test]
fn two_users_with_one_email_are_held_and_the_rest_proceeds() {
    let s = snap(vec![
        user("u1", "Same@x.com"),
        user("u2", "same@x.com"),
        user("u3", "c@x.com"),
    ]);
    let h = host(vec![("ber", vec![synced("r1", "ber", "u1", "same@x.com")])]);
    let p = plan(&s, &Policy::default(), &h);
    assert_eq!(
        ops(&p),
        ["create ber u3"],
        "r1 neither updated nor deactivated"
    );
    assert_eq!(p.conflicts.len(), 1);
    let c = &p.conflicts[0];
    assert_eq!(c.kind, ConflictKind::DuplicateEmail);
    assert_eq!(c.email, "same@x.com");
    assert_eq!(c.user_ids, ["u1", "u2"]);
    assert_eq!(p.counts.conflicts, 1);
}

#[test]
fn a_csv_record_the_policy_may_not_adopt_is_a_conflict() {
    let s = snap(vec![user("u1", "a@x.com"), user("u2", "b@x.com")]);
    let h = host(vec![(
        "ber",
        vec![Recipient::new("r1", "ber", Source::Csv, "A@x.com")],
    )]);
    let p = plan(&s, &Policy::default(), &h);
    assert_eq!(ops(&p), ["create ber u2"]);
    let c = &p.locations[0].conflicts[0];
    assert_eq!(c.kind, ConflictKind::NotAdoptable);
    assert_eq!(c.location_id.as_deref(), Some("ber"));
}

#[test]
fn an_id_that_changed_while_the_email_matched_is_a_conflict() {
    // The user was deleted and re-created: new id, same email.
    let s = snap(vec![user("u-new", "ada@x.com")]);
    let h = host(vec![(
        "ber",
        vec![synced("r1", "ber", "u-old", "ada@x.com")],
    )]);
    let p = plan(&s, &Policy::default(), &h);
    assert!(
        p.is_empty(),
        "neither created nor deactivated: {:?}",
        ops(&p)
    );
    let c = &p.locations[0].conflicts[0];
    assert_eq!(c.kind, ConflictKind::IdChanged);
    assert_eq!(c.user_ids, ["u-new", "u-old"]);
    assert_eq!(c.record_ids, ["r1"]);

    // Resolved by clearing the record's external id: the next sync links it.
    let mut h = h;
    h.locations[0].records[0].external_id = None;
    let p = plan_and_apply(&s, &Policy::default(), &mut h);
    assert_eq!(ops(&p), ["update r1"]);
    assert_eq!(
        p.operations().next().unwrap().reason(),
        &Reason::LinkByEmail
    );
    assert_eq!(
        h.locations[0].records[0].external_id.as_deref(),
        Some("u-new")
    );
    assert!(plan(&s, &Policy::default(), &h).is_empty());
}

#[test]
fn several_records_for_one_user_are_a_conflict() {
    let s = snap(vec![user("u1", "a@x.com")]);
    let h = host(vec![(
        "ber",
        vec![
            synced("r2", "ber", "u1", "a@x.com").with_field("given_name", "stale"),
            synced("r1", "ber", "u1", "a@x.com"),
        ],
    )]);
    let p = plan(&s, &Policy::default(), &h);
    assert!(p.is_empty());
    let c = &p.locations[0].conflicts[0];
    assert_eq!(c.kind, ConflictKind::DuplicateRecords);
    assert_eq!(c.record_ids, ["r1", "r2"]);

    // Two unlinked records matching one user by email: also held.
    let h = host(vec![(
        "ber",
        vec![
            Recipient::new("c1", "ber", Source::Csv, "a@x.com"),
            Recipient::new("c2", "ber", Source::Manual, "A@X.com"),
        ],
    )]);
    let p = plan(&s, &Policy::default(), &h);
    assert!(p.is_empty());
    assert_eq!(
        p.locations[0].conflicts[0].kind,
        ConflictKind::DuplicateRecords
    );
}

#[test]
fn an_empty_directory_stops_the_plan() {
    let s = snap(vec![]);
    let h = host(vec![("ber", vec![synced("r1", "ber", "u1", "a@x.com")])]);
    let err = reconcile(&s, &Policy::default(), &h).unwrap_err();
    assert!(matches!(
        err,
        ReconcileError::Safety(SafetyError::EmptyDirectory { .. })
    ));
    assert!(err.to_string().contains(
        "no directory users received from test: check the app's assignments / the sync scope"
    ));

    // On purpose: the plan deactivates everything and says it was overridden.
    let p = reconcile_with_override(&s, &Policy::default(), &h, SafetyOverride::all()).unwrap();
    assert_eq!(ops(&p), ["deactivate r1"]);
    assert!(p.warnings[0].contains("allow_empty_directory"));
}

#[test]
fn a_directory_with_nobody_in_scope_stops_the_plan() {
    let s = snap_groups(vec![user("u1", "a@x.com")], &[("g1", &["u1"])]);
    let policy = Policy {
        scope: Scope::groups([("g-other", "ber")]),
        ..Policy::default()
    };
    let r = Reconciler::new(&s, &policy).unwrap();
    let err = r
        .plan_location(&Location::new("ber", "Berlin"), &[])
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("none of the 1 directory users from test is present and in the sync scope"));
    let err = r.finish([], &[]).unwrap_err();
    assert!(matches!(
        err,
        SafetyError::EmptyScope {
            users_received: 1,
            ..
        }
    ));
    let mut policy = policy;
    policy.safety_override.allow_empty_directory = true;
    let r = Reconciler::new(&s, &policy).unwrap();
    assert!(r.finish([], &[]).is_ok());
}

fn many_synced(n: usize) -> Vec<Recipient> {
    (0..n)
        .map(|i| {
            synced(
                &format!("r{i:04}"),
                "ber",
                &format!("u{i:04}"),
                &format!("p{i}@x.com"),
            )
        })
        .collect()
}

fn users(range: std::ops::Range<usize>) -> Vec<directory_core::DirectoryUser> {
    range
        .map(|i| user(&format!("u{i:04}"), &format!("p{i}@x.com")))
        .collect()
}

#[test]
fn the_share_limit_stops_a_mass_deactivation_with_the_numbers() {
    // 412 of 1,000 Berlin users gone.
    let s = snap(users(412..1000));
    let h = host(vec![("ber", many_synced(1000))]);
    let err = reconcile(&s, &Policy::default(), &h).unwrap_err();
    assert_eq!(
        err.to_string(),
        "would deactivate 412 of 1,000 synced recipients in BER (41.2%), over the limit of 10%: \
         check the directory and the sync scope, or override with allow_mass_deactivation"
    );
    let ReconcileError::Safety(SafetyError::TooManyDeactivations { locations }) = err else {
        panic!("{err:?}")
    };
    let ber = &locations[0];
    assert_eq!((ber.deactivations, ber.owned), (412, 1000));
    assert_eq!((ber.max_count, ber.max_share), (None, Some(0.1)));

    // 100 of 1,000 is within 10%.
    let s = snap(users(100..1000));
    assert_eq!(plan(&s, &Policy::default(), &h).counts.deactivations, 100);
}

#[test]
fn the_count_limit_stops_a_plan_with_the_numbers() {
    let s = snap(users(6..1000));
    let h = host(vec![("ber", many_synced(1000))]);
    let mut policy = Policy {
        limits: SafetyLimits {
            max_deactivations: Some(5),
            max_deactivation_share: None,
            share_ignored_up_to: 0,
        },
        ..Policy::default()
    };
    let err = reconcile(&s, &policy, &h).unwrap_err();
    assert!(err.to_string().starts_with(
        "would deactivate 6 of 1,000 synced recipients in BER (0.6%), over the limit of 5 records"
    ));
    policy.limits.max_deactivations = Some(6);
    assert_eq!(plan(&s, &policy, &h).counts.deactivations, 6);
}

#[test]
fn an_override_lets_a_mass_deactivation_through_and_records_it() {
    let s = snap(users(500..1000));
    let h = host(vec![("ber", many_synced(1000))]);
    // As an argument ...
    let p = reconcile_with_override(
        &s,
        &Policy::default(),
        &h,
        SafetyOverride {
            allow_mass_deactivation: true,
            ..SafetyOverride::default()
        },
    )
    .unwrap();
    assert_eq!(p.counts.deactivations, 500);
    let overridden = p.locations[0].overridden.as_ref().expect("recorded");
    assert!(overridden.to_string().contains("500 of 1,000"));
    assert!(p.verify());
    // ... or standing in the policy.
    let mut policy = Policy::default();
    policy.safety_override.allow_mass_deactivation = true;
    assert_eq!(plan(&s, &policy, &h).hash, p.hash);
}

#[test]
fn an_invalid_policy_is_an_error_not_a_plan() {
    let mut policy = Policy::default();
    policy.present_statuses.clear();
    let err = reconcile(&snap(vec![user("u1", "a@x.com")]), &policy, &host(vec![])).unwrap_err();
    assert!(matches!(err, ReconcileError::Policy(_)));
    assert!(err.to_string().contains("list at least \"active\""));
}

#[test]
fn allowing_an_empty_directory_does_not_lift_the_deactivation_limits() {
    let s = snap(vec![]);
    let h = host(vec![("ber", many_synced(10))]);
    let only_empty = SafetyOverride {
        allow_empty_directory: true,
        ..SafetyOverride::default()
    };
    let err = reconcile_with_override(&s, &Policy::default(), &h, only_empty).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("would deactivate 10 of 10 synced recipients in BER (100%)"));
}

fn hand_made(n: usize, location: &str) -> Vec<Recipient> {
    (0..n)
        .map(|i| {
            let source = if i % 2 == 0 {
                Source::Csv
            } else {
                Source::Manual
            };
            Recipient::new(format!("m{i:04}"), location, source, format!("m{i}@x.com"))
        })
        .collect()
}

#[test]
fn the_share_limit_is_a_share_of_the_records_the_sync_owns() {
    // 30 of 100 synced records leave; 250 CSV and hand-made records beside
    // them do not dilute the share (30 of 350 would pass a 10% limit).
    let s = snap(users(30..100));
    let mut records = many_synced(100);
    records.extend(hand_made(250, "ber"));
    let h = host(vec![("ber", records)]);
    let err = reconcile(&s, &Policy::default(), &h).unwrap_err();
    let ReconcileError::Safety(SafetyError::TooManyDeactivations { locations }) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((locations[0].deactivations, locations[0].owned), (30, 100));
    assert!(err
        .to_string()
        .starts_with("would deactivate 30 of 100 synced recipients in BER (30%)"));

    // Inactive and adopted records: only active ones the sync owns count.
    let mut records = many_synced(100);
    records.iter_mut().take(10).for_each(|r| r.active = false);
    let mut adopted =
        Recipient::new("a1", "ber", Source::Csv, "p0@x.com").with_external_id("u0000");
    adopted.adopted = true;
    records[0] = adopted;
    let h = host(vec![("ber", records)]);
    let err = reconcile(&s, &Policy::default(), &h).unwrap_err();
    // 91 active owned (90 synced + the adopted one); 20 active ones leave.
    assert_eq!(
        (
            err_locations(&err)[0].deactivations,
            err_locations(&err)[0].owned
        ),
        (21, 91)
    );
}

fn err_locations(e: &ReconcileError) -> &[LocationDeactivations] {
    match e {
        ReconcileError::Safety(s) => s.locations(),
        other => panic!("{other:?}"),
    }
}

fn two_locations() -> HostData {
    let mut par = many_synced(10);
    for r in &mut par {
        r.id = r.id.replace('r', "p");
        r.location_id = "par".into();
    }
    let mut ber = many_synced(1000);
    ber.extend(hand_made(3, "ber"));
    host(vec![("par", par), ("ber", ber), ("muc", vec![])])
}

#[test]
fn the_empty_directory_error_carries_the_numbers_of_every_location() {
    let s = snap(vec![]);
    let h = two_locations();
    let err = reconcile(&s, &Policy::default(), &h).unwrap_err();
    let ReconcileError::Safety(SafetyError::EmptyDirectory {
        provider,
        users_received,
        locations,
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((provider.as_str(), *users_received), ("test", 0));
    let numbers: Vec<_> = locations
        .iter()
        .map(|l| (l.location_id.as_str(), l.owned, l.deactivations))
        .collect();
    assert_eq!(
        numbers,
        [("ber", 1000, 1000), ("muc", 0, 0), ("par", 10, 10)]
    );
    assert_eq!(
        err.to_string(),
        "no directory users received from test: check the app's assignments / the sync scope. \
         Planned anyway, this would deactivate 1,000 of 1,000 synced recipients in BER (100%), \
         10 of 10 synced recipients in PAR (100%); override with allow_empty_directory and \
         allow_mass_deactivation if the directory really is empty"
    );

    // A host planning location by location gets the same error from finish.
    let policy = Policy::default();
    let r = Reconciler::new(&s, &policy).unwrap();
    let outcomes = h
        .locations
        .iter()
        .map(|l| r.plan_location(&l.location, &l.records));
    assert_eq!(
        ReconcileError::from(r.finish(outcomes, &[]).unwrap_err()),
        err
    );
}

#[test]
fn every_location_over_its_limit_is_named() {
    let s = snap(users(500..1000));
    let h = two_locations();
    let err = reconcile(&s, &Policy::default(), &h).unwrap_err();
    let names: Vec<_> = err_locations(&err)
        .iter()
        .map(|l| (l.location_id.as_str(), l.owned, l.deactivations))
        .collect();
    assert_eq!(names, [("ber", 1000, 500), ("par", 10, 10)]);
    assert_eq!(
        err.to_string(),
        "would deactivate 500 of 1,000 synced recipients in BER (50%), over the limit of 10%; \
         10 of 10 synced recipients in PAR (100%), over the limit of 10%: \
         check the directory and the sync scope, or override with allow_mass_deactivation"
    );
    // Whatever order the host lists its locations in.
    let mut reversed = h.clone();
    reversed.locations.reverse();
    assert_eq!(
        reconcile(&s, &Policy::default(), &reversed).unwrap_err(),
        err
    );
}
