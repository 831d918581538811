//! The benchmark-sized org (100,000 users, 2,000 groups, ~300,000
//! memberships, 5,000 app users). Ignored by default: run with
//! `cargo test -p okta-directory --all-features --test scale -- --ignored`.

use std::time::{Duration, Instant};

use directory_core::{DirectoryProviderExt, UserStatus};
use okta_directory::testkit::OktaOrg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "large: a few seconds to generate and fetch 100,000 users"]
async fn hundred_thousand_users_fetched_in_the_fewest_requests() {
    let started = Instant::now();
    let org = OktaOrg::builder()
        .users(100_000)
        .groups(2_000)
        .memberships_per_user(3)
        .app_users(5_000)
        .latency(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let generated = started.elapsed();
    let truth = org.ground_truth();
    let okta = org.provider_builder().build().unwrap();
    let started = Instant::now();
    let snapshot = okta.snapshot().await.unwrap();
    let fetched = started.elapsed();
    assert!(snapshot.same_directory(&truth));
    let plain = truth
        .users
        .iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .count();
    let deprov = truth.users.len() - plain;
    let min_users = plain.div_ceil(200) + deprov.div_ceil(200);
    assert_eq!(org.requests("users") as usize, min_users);
    assert_eq!(org.requests("groups/id"), 2_000);
    assert_eq!(org.rate_limited(), 0);
    eprintln!(
        "generated in {generated:?}, fetched in {fetched:?}, requests {:?}, memberships {}",
        org.request_counts(),
        truth.memberships.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "large: times the chain of 500 user pages alone"]
async fn the_user_page_chain_costs_little_beyond_latency() {
    let org = OktaOrg::builder()
        .users(100_000)
        .groups(0)
        .app_users(0)
        .latency(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let okta = org.provider_builder().build().unwrap();
    let started = Instant::now();
    let n = okta.count_users().await.unwrap();
    let took = started.elapsed();
    let pages = org.requests("users");
    eprintln!(
        "{n} users in {pages} pages: {took:?}, {:?} a page",
        took / pages as u32
    );
}
