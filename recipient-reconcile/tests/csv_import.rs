//! CSV import: per-row errors, and planning under the ownership rules.

mod common;

use common::*;
use recipient_reconcile::{
    apply, plan_csv, read_csv, CsvError, Location, Operation, Policy, Reason, Recipient, Source,
};

fn locations() -> Vec<Location> {
    vec![
        Location::new("ber", "Berlin"),
        Location::new("par", "Paris"),
    ]
}

#[test]
fn bad_rows_are_reported_one_by_one_and_good_rows_kept() {
    let csv = "Email,Location,given_name,room\n\
               ada@x.com,Berlin,Ada,1.01\n\
               not-an-email,ber,Bob,\n\
               cy@x.com,Atlantis,Cy,\n\
               dee@x.com,par\n\
               \"Eve@X.com \",par,\"Eve, Jr.\",\n\
               ADA@x.com,ber,Ada again,\n";
    let import = read_csv(csv.as_bytes(), &locations(), None).unwrap();
    let rows: Vec<_> = import
        .rows
        .iter()
        .map(|r| (r.line, r.location_id.as_str(), r.email.as_str()))
        .collect();
    assert_eq!(rows, [(2, "ber", "ada@x.com"), (6, "par", "eve@x.com")]);
    assert_eq!(import.rows[1].fields["given_name"], "Eve, Jr.");
    assert!(
        !import.rows[1].fields.contains_key("room"),
        "empty cells are left out"
    );
    let errors: Vec<_> = import
        .errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(errors[0].0, 3);
    assert!(errors[0]
        .1
        .contains("\"not-an-email\" is not an email address"));
    assert_eq!(errors[1], (4, "unknown location \"Atlantis\""));
    assert_eq!(errors[2].0, 5);
    assert!(errors[2].1.contains("fields"), "{}", errors[2].1);
    assert_eq!(
        errors[3],
        (7, "ada@x.com is already on line 2 for this location")
    );
}

#[test]
fn a_default_location_stands_in_for_a_missing_column() {
    let import = read_csv("email\na@x.com\n".as_bytes(), &locations(), Some("Paris")).unwrap();
    assert_eq!(import.rows[0].location_id, "par");
    assert!(matches!(
        read_csv("email\na@x.com\n".as_bytes(), &locations(), None),
        Err(CsvError::NoLocation)
    ));
    let err = read_csv("mail,location\n".as_bytes(), &locations(), None).unwrap_err();
    assert!(err.to_string().contains("no `email` column"));
}

#[test]
fn an_import_creates_updates_and_reactivates_under_the_ownership_rules() {
    let csv = "email,location,given_name,room\n\
               new@x.com,ber,New,1\n\
               csv@x.com,ber,Csv,2\n\
               old@x.com,ber,,3\n\
               dir@x.com,ber,Dir,4\n\
               same@x.com,ber,Same,\n";
    let import = read_csv(csv.as_bytes(), &locations(), None).unwrap();
    let mut h = host(vec![(
        "ber",
        vec![
            Recipient::new("r1", "ber", Source::Csv, "CSV@x.com").with_field("given_name", "Old"),
            Recipient::new("r2", "ber", Source::Manual, "old@x.com").with_active(false),
            synced("r3", "ber", "u3", "dir@x.com"),
            Recipient::new("r4", "ber", Source::Csv, "same@x.com").with_field("given_name", "Same"),
            synced("r5", "ber", "u5", "untouched@x.com"),
        ],
    )]);
    let policy = Policy::default();
    let csv_plan = plan_csv(&import, &policy, &h.locations);
    let p = csv_plan.plan;
    assert_eq!(
        ops(&p),
        ["create ber new@x.com", "update r1", "reactivate r2"]
    );
    // Refused by ownership: a row error with its line, like any bad row.
    let [refused] = csv_plan.row_errors.as_slice() else {
        panic!("{:?}", csv_plan.row_errors)
    };
    assert_eq!(refused.line, 5);
    assert_eq!(refused.record_id.as_deref(), Some("r3"));
    assert_eq!(refused.reason, Some(Reason::CsvMayNotUpdateDirectory));
    assert_eq!(
        refused.message,
        "dir@x.com (record r3): the policy does not let a CSV import change a directory-owned record"
    );
    let Some(Operation::Create(c)) = p.operations().next() else {
        panic!()
    };
    assert_eq!((c.source, &c.reason), (Source::Csv, &Reason::CsvNewRow));
    let lp = &p.locations[0];
    assert_eq!(lp.counts.unchanged, 1);
    assert!(lp.skips.is_empty(), "a refused row is not a record skip");
    assert_eq!(p.counts.deactivations, 0, "an import never deactivates");

    // Allowed: the CSV may set fields on the directory's record.
    let policy = Policy {
        ownership: recipient_reconcile::Ownership {
            csv_updates_directory: true,
            ..Default::default()
        },
        ..Policy::default()
    };
    let p = plan_csv(&import, &policy, &h.locations).plan;
    assert_eq!(
        ops(&p),
        [
            "create ber new@x.com",
            "update r1",
            "update r3",
            "reactivate r2"
        ]
    );
    apply(&mut h, &p).unwrap();
    let r3 = h.locations[0]
        .records
        .iter()
        .find(|r| r.id == "r3")
        .unwrap();
    assert_eq!(r3.fields["room"], "4");
    assert_eq!(r3.source, Source::Directory, "still the directory's");
    assert!(plan_csv(&import, &policy, &h.locations).plan.is_empty());
}

#[test]
fn row_errors_come_in_line_order_whatever_their_cause() {
    let csv = "email,location\n\
               dir@x.com,ber\n\
               broken,ber\n";
    let import = read_csv(csv.as_bytes(), &locations(), None).unwrap();
    let h = host(vec![("ber", vec![synced("r3", "ber", "u3", "dir@x.com")])]);
    let errors = plan_csv(&import, &Policy::default(), &h.locations).row_errors;
    let lines: Vec<_> = errors.iter().map(|e| (e.line, e.reason.clone())).collect();
    assert_eq!(
        lines,
        [(2, Some(Reason::CsvMayNotUpdateDirectory)), (3, None)]
    );
}

#[test]
fn a_csv_row_does_not_bring_back_someone_who_left_the_directory() {
    // The directory is the source of truth for the people it owns: with the
    // CSV allowed to update directory records, a row naming a leaver is
    // refused, so CSV import, sync and CSV again do not flap.
    let policy = Policy {
        ownership: recipient_reconcile::Ownership {
            csv_updates_directory: true,
            ..Default::default()
        },
        ..Policy::default()
    };
    let csv = "email,location,room\nada@x.com,ber,1\nleft@x.com,ber,2\n";
    let import = read_csv(csv.as_bytes(), &locations(), None).unwrap();
    let mut h = host(vec![(
        "ber",
        vec![
            synced("r1", "ber", "u1", "ada@x.com"),
            synced("r2", "ber", "u2", "left@x.com"),
        ],
    )]);
    // u2 left the directory: the sync deactivates r2.
    let s = snap(vec![user("u1", "ada@x.com")]);
    assert_eq!(ops(&plan_and_apply(&s, &policy, &mut h)), ["deactivate r2"]);

    for round in 0..2 {
        let csv_plan = plan_csv(&import, &policy, &h.locations);
        let refused: Vec<_> = csv_plan
            .row_errors
            .iter()
            .map(|e| (e.line, e.record_id.as_deref(), e.reason.clone()))
            .collect();
        assert_eq!(
            refused,
            [(3, Some("r2"), Some(Reason::CsvMayNotReactivateDirectory))],
            "round {round}"
        );
        let want: &[&str] = if round == 0 { &["update r1"] } else { &[] };
        assert_eq!(ops(&csv_plan.plan), want, "round {round}");
        apply(&mut h, &csv_plan.plan).unwrap();
        assert!(
            plan_and_apply(&s, &policy, &mut h).is_empty(),
            "the sync after CSV round {round} has nothing to undo"
        );
    }
    let r2 = &h.locations[0].records[1];
    assert_eq!((r2.id.as_str(), r2.active), ("r2", false));
    let text = plan_csv(&import, &policy, &h.locations).row_errors[0]
        .message
        .clone();
    assert!(
        text.contains("a CSV import does not bring back someone the directory deactivated"),
        "{text}"
    );
}

#[test]
fn a_csv_record_later_matched_by_the_directory_follows_the_policy() {
    // The same ownership rules across both planners.
    let import = read_csv(
        "email,location\nada@x.com,ber\n".as_bytes(),
        &locations(),
        None,
    )
    .unwrap();
    let mut h = host(vec![("ber", vec![])]);
    let csv_plan = plan_csv(&import, &Policy::default(), &h.locations);
    apply(&mut h, &csv_plan.plan).unwrap();
    let s = snap(vec![user("u1", "ada@x.com")]);
    let p = plan(&s, &Policy::default(), &h);
    assert!(p.is_empty());
    assert_eq!(p.locations[0].conflicts.len(), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any bytes: an import or a header error, never a panic; every row is
    /// either kept or reported.
    #[test]
    fn reading_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let mut input = b"email,location,name\n".to_vec();
        input.extend(body);
        let import = read_csv(input.as_slice(), &locations(), None).unwrap();
        for row in &import.rows {
            proptest::prop_assert!(row.email.contains('@'));
        }
    }
}
