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
use directory_sync_host::run::{exit_on_error, sync_from_env};

#[tokio::main]
async fn main() {
    exit_on_error(sync_from_env(AzureDirectory::from_env).await);
}
