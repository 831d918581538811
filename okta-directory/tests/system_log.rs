//! Deletions between incremental rounds: read from the System Log with
//! `system_log(true)` and `okta.logs.read`; otherwise caught by the
//! scheduled full round; and a full round whenever the log cannot be trusted.

use chrono::{Duration, Utc};
use directory_core::{
    DirectoryProvider, DirectoryProviderExt, FullReason, RoundKind, SyncOptions, SyncRound,
    SyncState,
};
use okta_directory::testkit::{Fault, Misconfig, OktaOrg};
use okta_directory::OktaDirectory;

async fn org() -> OktaOrg {
    OktaOrg::builder()
        .users(120)
        .groups(8)
        .app_users(30)
        .start()
        .await
        .unwrap()
}

fn options() -> SyncOptions {
    SyncOptions {
        max_state_age: Duration::days(400),
        ..SyncOptions::default()
    }
}

/// What a host does between rounds: the state goes through JSON, and `edit`
/// may change the Okta cursor in it.
async fn next(
    okta: &OktaDirectory,
    prev: &SyncRound,
    sync: &SyncOptions,
    edit: impl FnOnce(&mut serde_json::Value),
) -> SyncRound {
    let mut v: serde_json::Value = serde_json::from_str(&prev.state.to_json().unwrap()).unwrap();
    edit(&mut v["cursor"]);
    let state = SyncState::from_json(&v.to_string()).unwrap();
    okta.sync(Some((&prev.snapshot, &state)), sync)
        .await
        .unwrap()
}

/// Deletes a user (deactivated first, as Okta requires) and a group with
/// members; returns their ids.
fn delete_some(org: &OktaOrg, first: &SyncRound) -> (String, String) {
    let user = first.snapshot.users[5].id.clone();
    let group = first.snapshot.groups[1].id.clone();
    assert!(first
        .snapshot
        .memberships
        .iter()
        .any(|m| m.group_id == group));
    org.mutate(|d| {
        let u = d.users.iter_mut().find(|u| u.id == user).unwrap();
        u.status = directory_core::UserStatus::Deprovisioned;
    });
    org.delete_user(&user);
    org.delete_group(&group);
    (user, group)
}

fn holds(s: &directory_core::Snapshot, user: &str, group: &str) -> bool {
    s.user(user).is_some()
        || s.groups.iter().any(|g| g.id == group)
        || s.memberships
            .iter()
            .any(|m| m.user_id == user || m.group_id == group)
}

fn provider_reason(round: &SyncRound) -> String {
    match &round.report.round {
        RoundKind::Full {
            reason: FullReason::Provider { detail },
        } => detail.clone(),
        other => panic!("expected a full round the provider asked for, got {other:?}"),
    }
}

#[tokio::test]
async fn with_the_log_deletions_show_in_the_next_incremental_round() {
    let org = org().await;
    let okta = org.provider_builder().system_log(true).build().unwrap();
    assert!(okta.scopes().contains(&"okta.logs.read"));
    let first = okta.sync(None, &options()).await.unwrap();
    let (user, group) = delete_some(&org, &first);
    assert!(org.system_log_len() >= 3);

    let second = next(&okta, &first, &options(), |_| {}).await;
    assert_eq!(second.report.round, RoundKind::Incremental);
    assert!(!holds(&second.snapshot, &user, &group));
    assert!(second
        .snapshot
        .same_directory(&okta.snapshot().await.unwrap()));
    assert!(second.snapshot.same_directory(&org.ground_truth()));
    assert_eq!(second.report.changes.groups_removed, 1);
    assert!(org.requests("logs") >= 1);
}

#[tokio::test]
async fn without_the_log_deletions_wait_for_the_scheduled_full_round() {
    let org = org().await;
    let okta = org.provider_builder().build().unwrap();
    assert!(!okta.scopes().contains(&"okta.logs.read"));
    let sync = SyncOptions {
        full_every: 1,
        ..options()
    };
    let first = okta.sync(None, &sync).await.unwrap();
    let (user, group) = delete_some(&org, &first);

    let second = next(&okta, &first, &sync, |_| {}).await;
    assert_eq!(second.report.round, RoundKind::Incremental);
    assert!(
        holds(&second.snapshot, &user, &group),
        "not seen without the log"
    );
    let truth = org.ground_truth();
    assert!(truth
        .users
        .iter()
        .all(|u| second.snapshot.user(&u.id).is_some()));
    assert_eq!(org.requests("logs"), 0);

    let third = next(&okta, &second, &sync, |_| {}).await;
    assert!(matches!(
        third.report.round,
        RoundKind::Full {
            reason: FullReason::Scheduled { .. }
        }
    ));
    assert!(third.snapshot.same_directory(&truth));
}

#[tokio::test]
async fn a_log_not_granted_leaves_deletions_to_full_rounds_and_check_says_so() {
    let org = org().await;
    let granted = ["okta.users.read", "okta.groups.read", "okta.apps.read"];
    org.misconfigure(Misconfig::GrantedScopes(granted.map(String::from).to_vec()));
    let okta = org.provider_builder().system_log(true).build().unwrap();
    let report = okta.check().await;
    assert!(report.is_ok(), "{report}");
    assert!(
        report.to_string().contains("okta.logs.read not granted"),
        "{report}"
    );

    let first = okta.sync(None, &options()).await.unwrap();
    let (user, group) = delete_some(&org, &first);
    let second = next(&okta, &first, &options(), |_| {}).await;
    assert_eq!(second.report.round, RoundKind::Incremental);
    assert!(holds(&second.snapshot, &user, &group));
    assert_eq!(org.requests("logs"), 0);
}

#[tokio::test]
async fn check_reads_the_log_when_granted_and_names_a_log_it_cannot_read() {
    let org = org().await;
    let okta = org.provider_builder().system_log(true).build().unwrap();
    let report = okta.check().await;
    assert!(report.is_ok(), "{report}");
    assert!(
        report.to_string().contains("read from the System Log"),
        "{report}"
    );
    assert_eq!(org.requests("logs"), 1);

    org.inject(Fault::status(403).on_path("/api/v1/logs").always());
    let report = okta.check().await;
    let problems: Vec<_> = report.problems().map(|(name, _)| name).collect();
    assert_eq!(
        problems,
        ["deletions: read from the System Log (okta.logs.read)"]
    );
}

#[tokio::test]
async fn a_log_that_cannot_be_read_forces_a_full_round() {
    let org = org().await;
    let okta = org.provider_builder().system_log(true).build().unwrap();
    let first = okta.sync(None, &options()).await.unwrap();
    delete_some(&org, &first);
    org.inject(Fault::status(403).on_path("/api/v1/logs").times(1));
    let second = next(&okta, &first, &options(), |_| {}).await;
    assert!(provider_reason(&second).contains("System Log cannot be read"));
    assert!(second.snapshot.same_directory(&org.ground_truth()));
}

#[tokio::test]
async fn a_gap_past_the_retention_or_a_clock_that_went_back_forces_a_full_round() {
    let org = org().await;
    let okta = org.provider_builder().system_log(true).build().unwrap();
    let first = okta.sync(None, &options()).await.unwrap();
    delete_some(&org, &first);
    let at = |t: chrono::DateTime<Utc>| serde_json::json!(t.to_rfc3339());

    let old = next(&okta, &first, &options(), |c| {
        c["began"] = at(Utc::now() - Duration::days(91))
    })
    .await;
    assert!(
        provider_reason(&old).contains("90-day retention"),
        "{:?}",
        old.report
    );
    assert!(old.snapshot.same_directory(&org.ground_truth()));

    let ahead = next(&okta, &first, &options(), |c| {
        c["began"] = at(Utc::now() + Duration::hours(1))
    })
    .await;
    assert!(
        provider_reason(&ahead).contains("went backwards"),
        "{:?}",
        ahead.report
    );
    assert!(ahead.snapshot.same_directory(&org.ground_truth()));
}

#[tokio::test]
async fn turning_the_log_on_after_rounds_without_it_starts_with_a_full_round() {
    let org = org().await;
    let without = org.provider_builder().build().unwrap();
    let first = without.sync(None, &options()).await.unwrap();
    delete_some(&org, &first);
    let with = org.provider_builder().system_log(true).build().unwrap();
    let second = next(&with, &first, &options(), |_| {}).await;
    assert!(provider_reason(&second).contains("did not read the System Log"));
    assert!(second.snapshot.same_directory(&org.ground_truth()));
    let third = next(&with, &second, &options(), |_| {}).await;
    assert_eq!(third.report.round, RoundKind::Incremental);
}

#[tokio::test]
async fn many_deletions_are_read_over_several_log_pages() {
    let org = OktaOrg::builder()
        .users(1_100)
        .groups(4)
        .app_users(10)
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().system_log(true).build().unwrap();
    let first = okta.sync(None, &options()).await.unwrap();
    org.mutate(|d| d.users.truncate(60));
    let before = org.requests("logs");
    let second = next(&okta, &first, &options(), |_| {}).await;
    assert_eq!(second.report.round, RoundKind::Incremental);
    assert_eq!(second.report.changes.users_removed, 1_040);
    assert!(second.snapshot.same_directory(&org.ground_truth()));
    assert_eq!(
        org.requests("logs") - before,
        2,
        "1,040 events at 1,000 a page"
    );
}

#[tokio::test]
async fn a_grant_withdrawn_mid_way_gets_okta_403_and_a_full_round_that_names_the_scope() {
    let org = org().await;
    let okta = org.provider_builder().system_log(true).build().unwrap();
    let first = okta.sync(None, &options()).await.unwrap();
    delete_some(&org, &first);
    let granted = ["okta.users.read", "okta.groups.read", "okta.apps.read"];
    org.misconfigure(Misconfig::GrantedScopes(granted.map(String::from).to_vec()));
    // The cached token still lists okta.logs.read; its refresh does not.
    org.revoke_tokens();
    let second = next(&okta, &first, &options(), |_| {}).await;
    let reason = provider_reason(&second);
    assert!(reason.contains("System Log cannot be read"), "{reason}");
    assert!(reason.contains("okta.logs.read"), "{reason}");
    assert!(second.snapshot.same_directory(&org.ground_truth()));
    let third = next(&okta, &second, &options(), |_| {}).await;
    assert_eq!(
        third.report.round,
        RoundKind::Incremental,
        "no log, no deletions to read"
    );
}
