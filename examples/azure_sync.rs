//! Sync a real Microsoft Entra tenant into a SQLite host.
//!
//! ```sh
//! AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=... \
//! AZURE_SERVICE_PRINCIPAL_ID=... SYNC_LOCATIONS="ber:Berlin" \
//!   cargo run --example azure_sync -- --dry-run
//! ```
//!
//! A certificate instead of a secret: `AZURE_CLIENT_CERTIFICATE_FILE` and
//! `AZURE_CLIENT_CERTIFICATE_KEY_FILE` (or the `_PEM` variables). National
//! clouds: `AZURE_CLOUD=usgov|usgov-dod|china`. The flow is the same as
//! `okta_sync`: check, collect, plan, write, apply unless `--dry-run`.

use azure_directory::AzureDirectory;
use directory_sync_examples::run::{run_sync, SyncArgs, SyncOutcome};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let args = SyncArgs::from_env_and_args(std::env::args().skip(1))?;
    let provider = AzureDirectory::from_env()?;
    match run_sync(&provider, &args).await? {
        SyncOutcome::CheckFailed(_) => std::process::exit(2),
        SyncOutcome::Planned { .. } => Ok(()),
    }
}
