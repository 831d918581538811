//! The in-memory apply helper: all or nothing, and refuses stale plans.

mod common;

use common::*;
use recipient_reconcile::{apply, apply_location, ApplyError, Policy};

#[test]
fn a_stale_or_foreign_plan_is_refused_and_nothing_changes() {
    let (s, h) = small_scenario();
    let p = plan(&s, &Policy::default(), &h);

    // Someone edited r1 after the plan was made.
    let mut edited = h.clone();
    edited.locations[0].records[0]
        .fields
        .insert("given_name".into(), "Edited".into());
    let before = edited.clone();
    let err = apply(&mut edited, &p).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Stale {
            record_id: "r1".into(),
            field: "given_name".into()
        }
    );
    assert_eq!(edited, before, "nothing applied");

    // r9 is gone from the store.
    let mut records = h.locations[0].records[..1].to_vec();
    let err = apply_location(&mut records, &p.locations[0], |_| "x".into()).unwrap_err();
    assert_eq!(err, ApplyError::UnknownRecord("r9".into()));
    assert_eq!(records.len(), 1);

    // A plan for a location the host does not have.
    let mut elsewhere = host(vec![("par", vec![])]);
    assert_eq!(
        apply(&mut elsewhere, &p).unwrap_err(),
        ApplyError::UnknownLocation("ber".into())
    );
}

#[test]
fn applying_creates_updates_and_deactivates() {
    let (s, mut h) = small_scenario();
    plan_and_apply(&s, &Policy::default(), &mut h);
    let recs = &h.locations[0].records;
    assert_eq!(recs[0].fields["given_name"], "New");
    assert!(!recs[1].active);
    assert_eq!(recs[2].id, "ber-1");
    assert_eq!(recs[2].external_id.as_deref(), Some("u2"));
    assert!(plan(&s, &Policy::default(), &h).is_empty());
}
