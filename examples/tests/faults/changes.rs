//! The directory changes between two syncs, in every way a person can
//! change, and recipient-reconcile plans exactly the right operations each
//! time (group-scoped policy: `berlin` -> location `ber`, `paris` -> `par`;
//! SSO candidates from the app's assignments).

use directory_core::UserStatus;
use recipient_reconcile::{HostData, Operation, Reason};

use crate::both_orgs;
use crate::host::{candidates, emails, op, ops, Run};
use crate::orgs::Kind;
use crate::world::email;

both_orgs!(
    the_first_sync_creates_everyone_in_scope_and_a_second_finds_nothing,
    a_user_created,
    a_user_renamed,
    an_email_changed,
    a_user_suspended,
    a_user_deprovisioned,
    a_user_reactivated,
    a_user_moved_between_groups,
    a_mapped_group_deleted,
    a_user_unassigned_from_the_app,
);

/// The status a suspended user has in each org.
fn suspended_status(kind: Kind) -> UserStatus {
    match kind {
        Kind::Okta => UserStatus::Suspended,
        Kind::Azure => UserStatus::Disabled,
    }
}

async fn the_first_sync_creates_everyone_in_scope_and_a_second_finds_nothing(kind: Kind) {
    let (run, first) = Run::start(kind).await;
    let new = Reason::NewInDirectory;
    let mut want = vec![
        op("ber", "create", "ada", new.clone()),
        op("ber", "create", "bob", new.clone()),
        op("ber", "create", "dee", new.clone()),
        op("par", "create", "cy", new.clone()),
        op("par", "create", "dee", new.clone()),
        op("par", "create", "eve", new),
    ];
    want.sort();
    assert_eq!(
        ops(&run.host, &first),
        want,
        "fay is only in an unmapped group"
    );
    assert_eq!(
        candidates(&first),
        emails(&["ada", "bob", "cy", "dee", "eve"])
    );
    assert!(run.plan().await.is_empty());
}

async fn a_user_created(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.create_user("gus", &["berlin", "legacy"]);
    let plan = run.plan_and_apply().await;
    assert_eq!(
        ops(&run.host, &plan),
        vec![op("ber", "create", "gus", Reason::NewInDirectory)]
    );
    assert!(
        !candidates(&plan).contains(&email("gus")),
        "not assigned to the app"
    );
}

async fn a_user_renamed(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.rename("ada", "Augusta", "King");
    let plan = run.plan_and_apply().await;
    assert_eq!(
        ops(&run.host, &plan),
        vec![op("ber", "update", "ada", Reason::AttributesChanged)]
    );
    let Some(Operation::Update(change)) = plan.operations().next() else {
        panic!("an update");
    };
    let fields: Vec<(&str, Option<&str>)> = change
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.new.as_deref()))
        .collect();
    assert!(
        fields.contains(&("given_name", Some("Augusta"))),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("family_name", Some("King"))),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("display_name", Some("Augusta King"))),
        "{fields:?}"
    );
}

async fn an_email_changed(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.change_email("bob", "robert@acme.test");
    let plan = run.plan().await;
    assert_eq!(
        ops(&run.host, &plan),
        vec![op("ber", "update", "bob", Reason::AttributesChanged)]
    );
    let Some(Operation::Update(change)) = plan.operations().next() else {
        panic!("an update");
    };
    let email_change = change.changes.iter().find(|c| c.field == "email");
    let email_change = email_change.expect("the email is changed");
    assert_eq!(email_change.old.as_deref(), Some("bob@acme.test"));
    assert_eq!(email_change.new.as_deref(), Some("robert@acme.test"));
    run.apply(&plan);
    assert!(run.plan().await.is_empty());
    assert!(candidates(&plan).contains(&"robert@acme.test".to_string()));
}

async fn a_user_suspended(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.set_suspended("bob", true);
    let plan = run.plan_and_apply().await;
    let status = suspended_status(kind);
    assert_eq!(
        ops(&run.host, &plan),
        vec![op(
            "ber",
            "deactivate",
            "bob",
            Reason::StatusNotPresent { status }
        )]
    );
    assert!(
        !candidates(&plan).contains(&email("bob")),
        "suspended: no SSO candidate"
    );
}

async fn a_user_deprovisioned(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.deprovision("eve");
    let plan = run.plan_and_apply().await;
    let reason = match kind {
        Kind::Okta => Reason::StatusNotPresent {
            status: UserStatus::Deprovisioned,
        },
        Kind::Azure => Reason::NotInDirectory,
    };
    assert_eq!(
        ops(&run.host, &plan),
        vec![op("par", "deactivate", "eve", reason)]
    );
    assert!(!candidates(&plan).contains(&email("eve")));
}

async fn a_user_reactivated(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.set_suspended("dee", true);
    let suspended = run.plan_and_apply().await;
    assert_eq!(suspended.counts.deactivations, 2, "dee in both locations");
    run.world.set_suspended("dee", false);
    let plan = run.plan_and_apply().await;
    assert_eq!(
        ops(&run.host, &plan),
        vec![
            op("ber", "reactivate", "dee", Reason::BackInDirectory),
            op("par", "reactivate", "dee", Reason::BackInDirectory),
        ]
    );
    assert!(candidates(&plan).contains(&email("dee")));
}

async fn a_user_moved_between_groups(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.move_user("bob", "berlin", "paris");
    let plan = run.plan_and_apply().await;
    assert_eq!(
        ops(&run.host, &plan),
        vec![
            op("ber", "deactivate", "bob", Reason::OutOfScope),
            op("par", "create", "bob", Reason::NewInDirectory),
        ]
    );
    assert_eq!(
        run.record_email(&active_record(&run.host, "par", "bob")),
        email("bob")
    );
}

async fn a_mapped_group_deleted(kind: Kind) {
    let (mut run, _) = Run::start(kind).await;
    run.world.delete_group("paris");
    let plan = run.plan_and_apply().await;
    assert_eq!(
        ops(&run.host, &plan),
        vec![
            op("par", "deactivate", "cy", Reason::OutOfScope),
            op("par", "deactivate", "dee", Reason::OutOfScope),
            op("par", "deactivate", "eve", Reason::OutOfScope),
        ],
        "Berlin is untouched"
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains(&run.world.id("paris"))),
        "the missing mapped group is named: {:?}",
        plan.warnings
    );
    // The group carried the app assignment: its members are no longer
    // candidates; the directly assigned are.
    assert_eq!(candidates(&plan), emails(&["ada", "bob"]));
}

async fn a_user_unassigned_from_the_app(kind: Kind) {
    let (mut run, first) = Run::start(kind).await;
    assert!(candidates(&first).contains(&email("ada")));
    run.world.unassign_app("ada");
    let plan = run.plan().await;
    assert!(
        plan.is_empty(),
        "recipients do not depend on the app: {:?}",
        ops(&run.host, &plan)
    );
    assert_eq!(candidates(&plan), emails(&["bob", "cy", "dee", "eve"]));
    run.apply(&plan);
}

/// The id of the active record for `name` in `loc`.
fn active_record(host: &HostData, loc: &str, name: &str) -> String {
    host.locations
        .iter()
        .filter(|l| l.location.id == loc)
        .flat_map(|l| &l.records)
        .find(|r| r.active && r.email == email(name))
        .map(|r| r.id.clone())
        .unwrap_or_else(|| panic!("no active record for {name} in {loc}"))
}
