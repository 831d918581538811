//! A sync round reports the HTTP requests it sent: what the simulated org
//! served for that round, token requests and retries included.

use chrono::Utc;
use directory_core::{DirectoryProviderExt, RoundKind, SyncOptions, SyncState};
use okta_directory::testkit::{Fault, OktaOrg};

#[tokio::test]
async fn each_round_reports_the_requests_the_org_served_for_it() {
    let org = OktaOrg::builder()
        .users(250)
        .groups(8)
        .app_users(20)
        .start()
        .await
        .unwrap();
    let okta = org.provider().unwrap();
    let before = org.total_requests();
    let first = okta.sync(None, &SyncOptions::default()).await.unwrap();
    assert!(org.requests("token") >= 1, "the token request counts");
    assert_eq!(first.report.requests, Some(org.total_requests() - before));

    let renamed = first.snapshot.users[7].id.clone();
    org.mutate(|d| {
        let u = d.users.iter_mut().find(|u| u.id == renamed).unwrap();
        u.name.family_name = Some("Renamed".into());
        u.last_updated = Some(Utc::now());
    });
    org.inject(Fault::status(503).on_path("/api/v1/users"));
    let state = SyncState::from_json(&first.state.to_json().unwrap()).unwrap();
    let (before, users_before) = (org.total_requests(), org.requests("users"));
    let second = okta
        .sync(Some((&first.snapshot, &state)), &SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(second.report.round, RoundKind::Incremental);
    assert_eq!(second.report.changes.users_changed, 1);
    assert_eq!(org.requests("users") - users_before, 2, "the retry counts");
    assert_eq!(second.report.requests, Some(org.total_requests() - before));
}
