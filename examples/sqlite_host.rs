//! A host app whose recipients live in a SQLite file.
//!
//! `cargo run --example sqlite_host [-- PATH]` (default
//! `target/sqlite_host.sqlite`): imports a CSV, syncs a directory into the
//! database in one transaction per run, shows that a second run changes
//! nothing, and shows the CSV ownership rules both ways.

use std::path::PathBuf;

use directory_sync_examples::host_demo::run_host_demo;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    directory_sync_examples::run::exit_on_error(run().await);
}

async fn run() -> anyhow::Result<()> {
    let db = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/sqlite_host.sqlite"));
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let csv_dir = db.parent().map(PathBuf::from).unwrap_or_else(|| ".".into());
    let outcome = run_host_demo(&db, &csv_dir).await?;
    println!(
        "\nsecond run of an unchanged directory: {} operations; database: {}",
        outcome.second_sync_operations,
        db.display()
    );
    Ok(())
}
