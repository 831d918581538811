//! The demo: `cargo run --example demo`.
//!
//! Starts a simulated Okta org and a simulated Entra tenant on 127.0.0.1,
//! syncs each through the real providers over loopback HTTP (real token
//! flows: a signed client assertion with DPoP for Okta, a client secret for
//! Entra), shows fetch progress, reconciles against a small host store that
//! already holds CSV-created and stale directory-created recipients, prints
//! the plan per location and the SSO user candidates, writes the plan as
//! JSON, applies it, and syncs again to show the second plan is empty.

use std::path::PathBuf;

use directory_sync_examples::demo::{run_demo, DemoSize};

#[tokio::main]
async fn main() {
    directory_sync_examples::run::exit_on_error(run().await);
}

async fn run() -> anyhow::Result<()> {
    let out = PathBuf::from("target/demo");
    let runs = run_demo(DemoSize::default(), &out).await?;
    println!();
    for run in &runs {
        println!(
            "{}: {} users, first plan {} operations, second plan {} operations",
            run.provider,
            run.users,
            run.first.counts.operations(),
            run.second.counts.operations()
        );
    }
    Ok(())
}
