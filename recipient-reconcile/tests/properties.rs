//! Property tests: idempotence, ownership, users in scope kept, order
//! independence.

mod common;

use std::collections::BTreeSet;

use directory_core::{Membership, Snapshot, UserStatus};
use proptest::prelude::*;
use recipient_reconcile::{
    apply, reconcile_with_override, HostData, HostLocation, Location, Operation, Plan, Policy,
    Recipient, Reconciler, SafetyOverride, Scope, Source,
};

const EMAILS: [&str; 8] = [
    "ada@x.com",
    "ADA@x.com",
    "bob@x.com",
    "cy@x.com",
    "dee@x.com",
    "eve@x.com",
    "fay@x.com",
    "gus@x.com",
];
const STATUSES: [UserStatus; 3] = [
    UserStatus::Active,
    UserStatus::Suspended,
    UserStatus::Deprovisioned,
];
const SOURCES: [Source; 3] = [Source::Directory, Source::Csv, Source::Manual];
const LOCATIONS: [&str; 2] = ["l0", "l1"];

#[derive(Debug, Clone)]
struct Case {
    snapshot: Snapshot,
    policy: Policy,
    host: HostData,
    /// Group id -> member user ids, to check scope independently.
    members: Vec<(String, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    let users = prop::collection::vec((0..8usize, 0..3usize, 0..3usize, any::<bool>()), 0..10);
    let members = prop::collection::vec((0..3usize, 0..10usize), 0..15);
    let scope = prop::option::of(prop::collection::vec((0..3usize, 0..2usize), 0..4));
    let record = (
        0..3usize,
        any::<bool>(),
        any::<bool>(),
        0..14usize,
        0..8usize,
        0..3usize,
    );
    let records = prop::collection::vec(prop::collection::vec(record, 0..8), 2..=2);
    let flags = (any::<[bool; 4]>(), prop::option::of(0..8usize));
    (users, members, scope, records, flags).prop_map(|(users, members, scope, records, flags)| {
        build(users, members, scope, records, flags)
    })
}

type UserSpec = (usize, usize, usize, bool);
type RecordSpec = (usize, bool, bool, usize, usize, usize);

fn build(
    users: Vec<UserSpec>,
    members: Vec<(usize, usize)>,
    scope: Option<Vec<(usize, usize)>>,
    records: Vec<Vec<RecordSpec>>,
    (flags, protected): ([bool; 4], Option<usize>),
) -> Case {
    let dir_users: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, &(email, status, name, has_email))| {
            let mut u = common::user(&format!("u{i}"), EMAILS[email]);
            if !has_email {
                u.emails.clear();
            }
            u.status = STATUSES[status].clone();
            u.name.given_name = Some(format!("name{name}").into());
            u
        })
        .collect();
    let members: Vec<(String, String)> = members
        .into_iter()
        .filter(|(_, u)| *u < users.len())
        .map(|(g, u)| (format!("g{g}"), format!("u{u}")))
        .collect();
    let groups = (0..3)
        .map(|g| directory_core::DirectoryGroup::new(format!("g{g}"), format!("G{g}")))
        .collect();
    let memberships = members
        .iter()
        .map(|(g, u)| Membership::direct(g, u))
        .collect();
    let snapshot = Snapshot::from_parts("prop", dir_users, groups, memberships, vec![]);
    let mut policy = Policy::default();
    if let Some(pairs) = scope {
        policy.scope = Scope::groups(
            pairs
                .into_iter()
                .map(|(g, l)| (format!("g{g}"), LOCATIONS[l])),
        );
    }
    policy.ownership.directory_updates_csv = flags[0];
    policy.ownership.directory_updates_manual = flags[1];
    policy.ownership.csv_updates_directory = flags[2];
    policy.deactivate_missing = flags[3];
    if let Some(p) = protected {
        policy.protected.record_ids.insert(format!("l0-r{p}"));
    }
    let host = HostData {
        locations: records
            .into_iter()
            .enumerate()
            .map(|(l, specs)| host_location(l, specs))
            .collect(),
        users: vec![],
    };
    Case {
        snapshot,
        policy,
        host,
        members,
    }
}

fn host_location(l: usize, specs: Vec<RecordSpec>) -> HostLocation {
    let id = LOCATIONS[l];
    let records = specs
        .into_iter()
        .enumerate()
        .map(|(i, (source, adopted, active, ext, email, name))| {
            let mut r = Recipient::new(format!("{id}-r{i}"), id, SOURCES[source], EMAILS[email])
                .with_active(active)
                .with_field("given_name", format!("name{name}"));
            r.adopted = adopted && SOURCES[source] != Source::Directory;
            r.external_id = match ext {
                0..=9 => Some(format!("u{ext}")),
                10..=12 => Some(format!("gone{ext}")),
                _ => None,
            };
            r
        })
        .collect();
    HostLocation {
        location: Location::new(id, id.to_uppercase()),
        records,
    }
}

fn run(c: &Case) -> Plan {
    reconcile_with_override(&c.snapshot, &c.policy, &c.host, SafetyOverride::all()).unwrap()
}

fn find<'h>(host: &'h HostData, id: &str) -> &'h Recipient {
    host.locations
        .iter()
        .flat_map(|l| &l.records)
        .find(|r| r.id == id)
        .unwrap()
}

/// Shuffles with a small deterministic generator.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn applying_the_plan_then_planning_again_gives_nothing(c in case()) {
        let p = run(&c);
        let mut host = c.host.clone();
        apply(&mut host, &p).unwrap();
        let again = reconcile_with_override(&c.snapshot, &c.policy, &host, SafetyOverride::all()).unwrap();
        prop_assert!(again.is_empty(), "second plan: {:?}", again.operations().collect::<Vec<_>>());
    }

    #[test]
    fn records_the_directory_does_not_own_are_untouched_unless_allowed(c in case()) {
        let p = run(&c);
        for op in p.operations() {
            let (id, link) = match op {
                Operation::Create(_) => continue,
                Operation::Update(ch) | Operation::Reactivate(ch) => (&ch.record_id, ch.link),
                Operation::Deactivate(d) => (&d.record_id, false),
            };
            let r = find(&c.host, id);
            if r.directory_owned() {
                continue;
            }
            // Only an adoption the policy allows touches a foreign record.
            prop_assert!(link, "{op:?} on {r:?}");
            let allowed = match r.source {
                Source::Csv => c.policy.ownership.directory_updates_csv,
                Source::Manual => c.policy.ownership.directory_updates_manual,
                Source::Directory => true,
            };
            prop_assert!(allowed, "{op:?} on {r:?}");
        }
    }

    #[test]
    fn users_present_and_in_scope_are_never_deactivated(c in case()) {
        let p = run(&c);
        for lp in &p.locations {
            let mapped: BTreeSet<&str> = match &c.policy.scope {
                Scope::Groups { groups } => groups
                    .iter()
                    .filter(|(_, ls)| ls.contains(&lp.location_id))
                    .map(|(g, _)| g.as_str())
                    .collect(),
                _ => BTreeSet::new(),
            };
            for op in &lp.operations {
                let Operation::Deactivate(d) = op else { continue };
                let Some(uid) = &d.external_id else { continue };
                let Some(u) = c.snapshot.user(uid) else { continue };
                let in_scope = matches!(c.policy.scope, Scope::AllToAll)
                    || c.members.iter().any(|(g, m)| m == uid && mapped.contains(g.as_str()));
                let present = c.policy.present_statuses.contains(&u.status);
                prop_assert!(!(in_scope && present), "deactivated {uid} in {}", lp.location_id);
            }
            for op in &lp.operations {
                if let Operation::Deactivate(d) = op {
                    prop_assert!(!c.policy.protected.record_ids.contains(&d.record_id));
                    prop_assert!(c.policy.deactivate_missing);
                }
            }
        }
    }

    #[test]
    fn shuffled_inputs_give_the_same_plan_and_hash(c in case(), seed in any::<u64>()) {
        let p = run(&c);
        let mut shuffled = c.clone();
        for (i, l) in shuffled.host.locations.iter_mut().enumerate() {
            shuffle(&mut l.records, seed.wrapping_add(i as u64));
        }
        shuffle(&mut shuffled.host.locations, seed ^ 0xaaaa);
        let mut users = shuffled.snapshot.users.clone();
        shuffle(&mut users, seed);
        let mut memberships = shuffled.snapshot.memberships.clone();
        shuffle(&mut memberships, seed ^ 0x5555);
        shuffled.snapshot = Snapshot::from_parts("prop", users, shuffled.snapshot.groups.clone(), memberships, vec![]);
        let q = run(&shuffled);
        prop_assert_eq!(&q.hash, &p.hash);
        prop_assert_eq!(q, p);
    }

    #[test]
    fn the_reconciler_gives_what_reconcile_gives(c in case(), keep in 0..3usize, seed in any::<u64>()) {
        // Any subset of the locations, so the mapping may name one the host lacks.
        let mut host = c.host.clone();
        host.locations.retain(|l| keep == 2 || l.location.id == LOCATIONS[keep]);
        let p = reconcile_with_override(&c.snapshot, &c.policy, &host, SafetyOverride::all()).unwrap();
        let r = Reconciler::with_override(&c.snapshot, &c.policy, SafetyOverride::all()).unwrap();
        shuffle(&mut host.locations, seed);
        let outcomes: Vec<_> = host
            .locations
            .iter()
            .map(|l| r.plan_location(&l.location, &l.records))
            .collect();
        let q = r.finish(outcomes, &host.users).unwrap();
        prop_assert_eq!(q, p);
    }

    #[test]
    fn the_plan_survives_json_and_its_hash_checks(c in case()) {
        let p = run(&c);
        let back = Plan::from_json(&p.to_json().unwrap()).unwrap();
        prop_assert!(back.verify());
        prop_assert_eq!(back, p);
    }
}
