//! Sync a real Okta org into a SQLite host.
//!
//! ```sh
//! OKTA_DOMAIN=acme.okta.com OKTA_CLIENT_ID=0oa... OKTA_PRIVATE_JWK_FILE=key.json \
//! OKTA_APP_ID=0oa... SYNC_LOCATIONS="ber:Berlin,muc:Munich" \
//!   cargo run --example okta_sync -- --dry-run
//! ```
//!
//! Runs `check()` first and prints every problem with its fix; then collects
//! the directory, plans against the host database (`SYNC_DB`, default
//! `directory-sync.sqlite`), writes the plan (`SYNC_PLAN`, default
//! `plan.json`) and applies it in one transaction unless `--dry-run`.

use directory_sync_examples::run::{run_sync, SyncArgs, SyncOutcome};
use okta_directory::OktaDirectory;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let args = SyncArgs::from_env_and_args(std::env::args().skip(1))?;
    let provider = OktaDirectory::from_env()?;
    match run_sync(&provider, &args).await? {
        SyncOutcome::CheckFailed(_) => std::process::exit(2),
        SyncOutcome::Planned { .. } => Ok(()),
    }
}
