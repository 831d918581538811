//! The seeds' own example: 10,000 directory users, 10 locations, all to all.

mod common;

use common::*;
use directory_core::{DirectoryUser, UserStatus};
use recipient_reconcile::{Operation, Policy, Reason, Reconciler};

fn directory() -> Vec<DirectoryUser> {
    (0..10_000)
        .map(|i| user(&format!("00u{i:05}"), &format!("person{i}@acme.test")))
        .collect()
}

fn ten_locations() -> recipient_reconcile::HostData {
    host(
        (0..10)
            .map(|i| {
                (
                    [
                        "ber", "par", "lon", "nyc", "sfo", "tok", "syd", "sao", "mum", "jnb",
                    ][i],
                    vec![],
                )
            })
            .collect(),
    )
}

#[test]
fn ten_thousand_users_in_ten_locations() {
    let policy = Policy::default();
    let mut h = ten_locations();

    // First run: everyone everywhere.
    let s = snap(directory());
    let first = plan_and_apply(&s, &policy, &mut h);
    assert_eq!(first.counts.creates, 100_000);
    assert_eq!(first.counts.operations(), 100_000);
    assert!(h.locations.iter().all(|l| l.records.len() == 10_000));

    // Second run: nothing to do.
    let second = plan(&s, &policy, &h);
    assert!(second.is_empty());
    assert_eq!(second.counts.unchanged, 100_000);

    // A few users change, leave, are suspended, come back; one joins.
    let mut users = directory();
    users[10].name.family_name = Some("Married".into()); // renamed
    users[20].emails[0].value = "new.address@acme.test".into(); // email changed
    users[30].status = UserStatus::Suspended; // suspended
    users.remove(40); // deleted from the directory
    users.push(user("00u99999", "newcomer@acme.test")); // joined
    let s2 = snap(users);
    let third = plan_and_apply(&s2, &policy, &mut h);
    let per_location: Vec<(&str, &Reason)> = third.locations[0]
        .operations
        .iter()
        .map(|op| match op {
            Operation::Create(c) => (c.external_id.as_deref().unwrap(), &c.reason),
            Operation::Update(c) | Operation::Reactivate(c) => {
                (c.external_id.as_deref().unwrap(), &c.reason)
            }
            Operation::Deactivate(d) => (d.external_id.as_deref().unwrap(), &d.reason),
        })
        .collect();
    assert_eq!(
        per_location,
        [
            ("00u99999", &Reason::NewInDirectory),
            ("00u00010", &Reason::AttributesChanged),
            ("00u00020", &Reason::AttributesChanged),
            (
                "00u00030",
                &Reason::StatusNotPresent {
                    status: UserStatus::Suspended
                }
            ),
            ("00u00040", &Reason::NotInDirectory),
        ]
    );
    assert!(third.locations.iter().all(|l| l.counts.operations() == 5));
    assert_eq!(third.counts.creates, 10);
    assert_eq!(third.counts.updates, 20);
    assert_eq!(third.counts.deactivations, 20);

    // The suspended user comes back: reactivated in every location.
    let mut users = s2.users.clone();
    let back = users.iter_mut().find(|u| u.id == "00u00030").unwrap();
    back.status = UserStatus::Active;
    let s3 = snap(users);
    let fourth = plan_and_apply(&s3, &policy, &mut h);
    assert_eq!(fourth.counts.reactivations, 10);
    assert_eq!(fourth.counts.operations(), 10);
    assert!(plan(&s3, &policy, &h).is_empty());
}

#[test]
fn the_streaming_api_gives_the_same_plan_as_the_one_call() {
    let s = snap(directory()[..500].to_vec());
    let policy = Policy::default();
    let h = ten_locations();
    let one_call = plan(&s, &policy, &h);
    let r = Reconciler::new(&s, &policy).unwrap();
    let streamed: Vec<_> = h
        .locations
        .iter()
        .map(|l| r.plan_location(&l.location, &l.records))
        .collect();
    let streamed = r.finish(streamed, &h.users).unwrap();
    assert_eq!(streamed, one_call);
    assert!(streamed.verify());
}

#[test]
fn a_reconciler_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Reconciler<'static>>();
    assert_send_sync::<recipient_reconcile::Plan>();
    let s = snap(directory()[..100].to_vec());
    let policy = Policy::default();
    let r = Reconciler::new(&s, &policy).unwrap();
    let h = ten_locations();
    let plans: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = h
            .locations
            .iter()
            .map(|l| scope.spawn(|| r.plan_location(&l.location, &l.records).unwrap()))
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let joined = r.finish(plans.into_iter().map(Ok), &[]).unwrap();
    assert_eq!(joined, plan(&s, &policy, &h));
}
