//! The plan's JSON form and its hash.

mod common;

use common::*;
use recipient_reconcile::{Operation, Plan, Policy};

fn sample() -> Plan {
    let (s, h) = small_scenario();
    plan(&s, &Policy::default(), &h)
}

#[test]
fn the_json_names_operations_and_reasons() {
    let json: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    let ops = &json["locations"][0]["operations"];
    assert_eq!(ops[0]["op"], "create");
    assert_eq!(ops[0]["external_id"], "u2");
    assert_eq!(ops[0]["source"], "directory");
    assert_eq!(ops[0]["reason"]["code"], "new_in_directory");
    assert_eq!(ops[1]["op"], "update");
    assert_eq!(ops[1]["changes"][0]["field"], "given_name");
    assert_eq!(ops[1]["changes"][0]["old"], "Given u1");
    assert_eq!(ops[1]["changes"][0]["new"], "New");
    assert_eq!(ops[2]["op"], "deactivate");
    assert_eq!(ops[2]["reason"]["code"], "not_in_directory");
    assert_eq!(json["counts"]["creates"], 1);
    assert_eq!(json["hash"].as_str().unwrap().len(), 64);
}

#[test]
fn the_hash_is_stable_and_catches_any_change() {
    let a = sample();
    assert_eq!(a.hash, sample().hash, "same inputs, same hash");
    assert!(a.verify());
    let mut tampered = a.clone();
    if let Some(Operation::Update(c)) = tampered.locations[0].operations.get_mut(1) {
        c.changes[0].new = Some("Mallory".into());
    }
    assert!(!tampered.verify());
    let mut reordered = a.clone();
    reordered.locations[0].operations.swap(0, 2);
    assert!(!reordered.verify());
}

#[test]
fn reasons_read_as_sentences() {
    let p = sample();
    let texts: Vec<String> = p.operations().map(|op| op.reason().to_string()).collect();
    assert_eq!(
        texts,
        [
            "new in the directory and in scope",
            "attributes changed in the directory",
            "the user is no longer in the directory",
        ]
    );
}

#[test]
fn counts_print_as_a_summary_line() {
    assert_eq!(
        sample().locations[0].counts.to_string(),
        "1 to create, 1 to update, 0 to reactivate, 1 to deactivate (0 unchanged, 0 conflicts, 0 skipped)"
    );
}
