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

use directory_sync_host::run::{exit_on_error, sync_from_env};
use okta_directory::OktaDirectory;

#[tokio::main]
async fn main() {
    exit_on_error(sync_from_env(OktaDirectory::from_env).await);
}
