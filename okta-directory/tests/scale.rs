//! The benchmark-sized org (100,000 users, 2,000 groups, ~300,000
//! memberships, 5,000 app users) in the fewest requests Okta's page limits
//! allow. Ignored by default: run with
//! `cargo test -p okta-directory --all-features --test scale -- --ignored`.
//! How long it takes is the bench table's to measure, not this test's.

use std::time::Duration;

use directory_core::{DirectoryProviderExt, UserStatus};
use okta_directory::testkit::OktaOrg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "large: a few seconds to generate and fetch 100,000 users"]
async fn hundred_thousand_users_fetched_in_the_fewest_requests() {
    let org = OktaOrg::builder()
        .users(100_000)
        .groups(2_000)
        .memberships_per_user(3)
        .app_users(5_000)
        .latency(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let truth = org.ground_truth();
    let okta = org.provider_builder().build().unwrap();
    let snapshot = okta.snapshot().await.unwrap();

    assert_eq!(snapshot.users.len(), 100_000);
    assert_eq!(snapshot.groups.len(), 2_000);
    assert_eq!(snapshot.memberships.len(), truth.memberships.len());
    assert!(snapshot.memberships.len() > 250_000, "about three a user");
    assert_eq!(snapshot.app_assignments.len(), truth.app_assignments.len());
    assert!(snapshot.same_directory(&truth));

    // Users 200 a page in two listings (the plain one leaves deprovisioned
    // users out), every group in one page of up to 10,000, each group's
    // members in one page of up to 1,000, app users 500 a page, one token.
    let plain = truth
        .users
        .iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .count();
    let deprov = truth.users.len() - plain;
    let user_pages = (plain.div_ceil(200) + deprov.div_ceil(200)) as u64;
    assert_eq!(org.requests("users"), user_pages);
    assert_eq!(org.requests("groups"), 1);
    assert_eq!(org.requests("groups/id"), 2_000);
    assert_eq!(org.requests("apps"), 5_000u64.div_ceil(500));
    assert_eq!(okta.token_fetches(), 1, "one token serves the whole run");
    assert_eq!(
        org.total_requests(),
        user_pages + 1 + 2_000 + 10 + org.requests("token"),
        "no request beyond the listings and the token: {:?}",
        org.request_counts()
    );
    assert_eq!(org.rate_limited(), 0);
}
