//! The flow of `okta_sync` and `azure_sync`, pointed at simulated orgs: a
//! missing scope or consent stops it at `check()` with every problem and its
//! fix; a healthy org gets a plan written (dry run) or applied to SQLite.

use azure_directory::testkit::{Misconfig as EntraMisconfig, SimulatedTenant};
use directory_sync_examples::run::{run_sync, SyncArgs, SyncOutcome};
use okta_directory::testkit::{Misconfig as OktaMisconfig, OktaOrg};
use recipient_reconcile::{Location, Policy};

fn args(dir: &std::path::Path, dry_run: bool) -> SyncArgs {
    SyncArgs {
        database: dir.join("host.sqlite"),
        plan_out: dir.join("plan.json"),
        dry_run,
        policy: Policy::default(),
        locations: vec![Location::new("ber", "Berlin")],
    }
}

#[tokio::test]
async fn okta_missing_scope_is_reported_with_its_fix_before_any_fetch() {
    let org = OktaOrg::builder()
        .users(50)
        .groups(4)
        .app_users(5)
        .start()
        .await
        .unwrap();
    org.misconfigure(OktaMisconfig::GrantedScopes(vec![
        "okta.users.read".into(),
        "okta.groups.read".into(),
    ]));
    let provider = org.provider_builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before = org.requests("users");
    match run_sync(&provider, &args(dir.path(), false)).await.unwrap() {
        SyncOutcome::CheckFailed(text) => {
            assert!(text.contains("PROBLEM"), "{text}");
            assert!(
                text.contains("okta.apps.read"),
                "the message names the missing scope: {text}"
            );
        }
        other => panic!("expected the check to fail, got {other:?}"),
    }
    assert!(!dir.path().join("plan.json").exists(), "no plan is written");
    assert!(
        org.requests("users") <= before + 1,
        "only the check's probe listed users"
    );
}

#[tokio::test]
async fn entra_missing_consent_is_reported_with_its_fix() {
    let tenant = SimulatedTenant::builder()
        .users(50)
        .groups(4)
        .app_users(5)
        .start()
        .await
        .unwrap();
    tenant.misconfigure(EntraMisconfig::NoAdminConsent);
    let provider = tenant.provider().unwrap();
    let dir = tempfile::tempdir().unwrap();
    match run_sync(&provider, &args(dir.path(), false)).await.unwrap() {
        SyncOutcome::CheckFailed(text) => {
            assert!(text.to_lowercase().contains("consent"), "{text}");
        }
        other => panic!("expected the check to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dry_run_writes_the_plan_and_applies_nothing_then_a_real_run_applies() {
    let tenant = SimulatedTenant::builder()
        .users(80)
        .groups(4)
        .app_users(5)
        .start()
        .await
        .unwrap();
    let provider = tenant.provider().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dry = run_sync(&provider, &args(dir.path(), true)).await.unwrap();
    let SyncOutcome::Planned {
        plan,
        applied: None,
    } = dry
    else {
        panic!("{dry:?}")
    };
    assert!(plan.counts.creates > 0);
    let written = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    assert_eq!(
        recipient_reconcile::Plan::from_json(&written).unwrap(),
        *plan
    );
    let host =
        directory_sync_examples::sqlite::SqliteHost::open(dir.path().join("host.sqlite")).unwrap();
    assert!(
        host.records("ber").unwrap().is_empty(),
        "a dry run applies nothing"
    );
    drop(host);

    let real = run_sync(&provider, &args(dir.path(), false)).await.unwrap();
    let SyncOutcome::Planned {
        applied: Some(applied),
        ..
    } = real
    else {
        panic!("{real:?}")
    };
    assert_eq!(applied.inserted, plan.counts.creates);
    let again = run_sync(&provider, &args(dir.path(), false)).await.unwrap();
    let SyncOutcome::Planned { plan, .. } = again else {
        panic!("{again:?}")
    };
    assert!(plan.is_empty(), "{:?}", plan.counts);
}
