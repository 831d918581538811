//! No record is ever deactivated because of a fault or an empty directory.
//!
//! * An empty directory: the sync succeeds (nothing is wrong on the wire)
//!   but the safety limit stops the plan, telling the admin to check the
//!   app's assignments and what it would have deactivated in each location.
//! * A fault on the last page of a mapped group's memberships (the page
//!   whose loss would drop people from the location): no snapshot, so no
//!   plan, and the host's records stay exactly as they were.

use directory_core::{ErrorKind, Snapshot};
use recipient_reconcile::{reconcile, ReconcileError, SafetyError};

use crate::both_orgs;
use crate::host::Run;
use crate::orgs::{sync, tuning, Fault, Injection, Kind, Target, Tuning};

both_orgs!(
    an_empty_directory_stops_the_plan_and_says_to_check_the_assignments,
    a_5xx_on_the_last_page_of_group_memberships_makes_no_plan,
    a_broken_last_page_of_group_memberships_makes_no_plan,
);

/// What one sync-and-apply run ended in.
#[derive(Debug)]
enum Outcome {
    /// Planned and applied.
    Applied,
    /// The sync failed: no snapshot, no plan.
    SyncFailed(directory_core::Error),
    /// A safety limit stopped the plan.
    Stopped(ReconcileError),
}

/// What a host's sync job does: sync, plan, apply; any failure leaves the
/// records alone.
async fn sync_and_apply(run: &mut Run) -> Outcome {
    let snapshot = match sync(run.provider.as_ref()).await {
        Ok(s) => s,
        Err(e) => return Outcome::SyncFailed(e),
    };
    match reconcile(&snapshot, &run.policy, &run.host) {
        Ok(plan) => {
            run.apply(&plan);
            Outcome::Applied
        }
        Err(e) => Outcome::Stopped(e),
    }
}

async fn an_empty_directory_stops_the_plan_and_says_to_check_the_assignments(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    let before = run.host.clone();
    run.world.remove_everyone();
    let outcome = sync_and_apply(&mut run).await;
    let Outcome::Stopped(ReconcileError::Safety(e @ SafetyError::EmptyDirectory { .. })) = &outcome
    else {
        panic!("expected the empty-directory stop, got {outcome:?}");
    };
    let text = e.to_string();
    assert!(
        text.starts_with("no directory users received from"),
        "{text}"
    );
    assert!(text.contains("check the app's assignments"), "{text}");
    assert!(
        text.contains(&run.provider.to_string()),
        "names the provider: {text}"
    );
    // The numbers, per location, so the host shows them without asking again:
    // every synced record of Berlin and Paris would go.
    let SafetyError::EmptyDirectory {
        users_received,
        locations,
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(*users_received, 0);
    let numbers: Vec<_> = locations
        .iter()
        .map(|l| (l.location_id.as_str(), l.owned, l.deactivations))
        .collect();
    let owned = |id: &str| {
        let l = before.locations.iter().find(|l| l.location.id == id);
        l.map_or(0, |l| l.records.iter().filter(|r| r.active).count() as u64)
    };
    let (ber, par) = (owned("ber"), owned("par"));
    assert!(ber > 0 && par > 0, "the first sync created records");
    assert_eq!(numbers, [("ber", ber, ber), ("par", par, par)]);
    assert!(
        text.contains(&format!("{ber} of {ber} synced recipients in Berlin")),
        "{text}"
    );
    assert_eq!(run.host, before, "no record touched");
}

/// Two pages per member listing: `berlin` (three members) has its last page
/// second. Checks that page two really is the last (a fault after it never
/// fires), then injects `fault` there and checks nothing happens.
async fn last_member_page_fault_makes_no_plan(kind: Kind, fault: Injection, want: ErrorKind) {
    let two = Tuning {
        page_size: Some(2),
        ..tuning()
    };
    let (mut run, first) = Run::start_with(kind, &two).await;
    assert_eq!(first.counts.creates, 6);
    let berlin = run.world.id("berlin");
    let target = Target::MembersOf(berlin.clone());

    run.world.sim.inject(
        Injection::new(Fault::Status(500), target.clone())
            .after(2)
            .always(),
    );
    assert!(
        matches!(sync_and_apply(&mut run).await, Outcome::Applied),
        "page 2 is the last"
    );
    run.world.sim.clear_faults();

    // What losing that page would cost: a member of berlin not seen.
    let truth = run.world.sim.ground_truth();
    let partial = without_one_member_of(&truth, &berlin);
    let lossy = reconcile(&partial, &run.policy, &run.host).expect("a plan");
    assert_eq!(
        lossy.counts.deactivations, 1,
        "a partial snapshot would deactivate"
    );

    let before = run.host.clone();
    run.world.sim.inject(Injection { target, ..fault });
    match sync_and_apply(&mut run).await {
        Outcome::SyncFailed(e) => assert_eq!(e.kind(), want, "{e}"),
        other => panic!("expected the sync to fail, got {other:?}"),
    }
    assert_eq!(run.host, before, "no record deactivated or changed");
}

fn without_one_member_of(truth: &Snapshot, group: &str) -> Snapshot {
    let mut s = truth.clone();
    let pos = s.memberships.iter().rposition(|m| m.group_id == group);
    s.memberships.remove(pos.expect("the group has members"));
    s
}

async fn a_5xx_on_the_last_page_of_group_memberships_makes_no_plan(kind: Kind) {
    let fault = Injection::new(Fault::Status(503), Target::Members)
        .after(1)
        .always();
    last_member_page_fault_makes_no_plan(kind, fault, ErrorKind::Transient).await;
}

async fn a_broken_last_page_of_group_memberships_makes_no_plan(kind: Kind) {
    let fault = Injection::new(Fault::TruncatedJson, Target::Members).after(1);
    last_member_page_fault_makes_no_plan(kind, fault, ErrorKind::InvalidResponse).await;
}
