//! The `sqlite_host` walkthrough as a function, so a test runs exactly what
//! the example prints: a CSV import, a directory sync that applies in one
//! transaction, a second sync with nothing to do, and the ownership rules.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use directory_core::{DirectoryProviderExt, DirectoryUser, InMemoryDirectory, UserStatus};
use recipient_reconcile::{plan_csv, read_csv, Attribute, Location, Mapping, Operation, Policy};

use crate::report;
use crate::run::plan_host;
use crate::sqlite::SqliteHost;

/// What the walkthrough saw, for the test to check.
#[derive(Debug, Clone, Default)]
pub struct HostDemoOutcome {
    /// Rows the first CSV import created.
    pub csv_created: u64,
    /// CSV rows refused, with their line numbers.
    pub csv_row_errors: Vec<u64>,
    /// Operations of the first directory sync.
    pub first_sync_operations: u64,
    /// Conflicts of the first directory sync (a CSV record the policy may
    /// not adopt).
    pub first_sync_conflicts: u64,
    /// Operations of the second, unchanged sync.
    pub second_sync_operations: u64,
    /// Operations after the customer lets the directory adopt CSV records.
    pub adopt_operations: u64,
    /// Operations after one user left the directory.
    pub leaver_operations: u64,
    /// Updates a later CSV import makes to directory-owned records (the
    /// policy does not allow it: expected 0).
    pub csv_after_sync_updates: u64,
    /// Lines of that import the ownership rules refused.
    pub csv_after_sync_refused: Vec<u64>,
    /// Sync runs logged in the database.
    pub runs: u64,
}

/// The directory: six people; Dana is suspended.
fn directory() -> InMemoryDirectory {
    let people = [
        (
            "00u1",
            "Ada",
            "Lovelace",
            "ada@acme.test",
            UserStatus::Active,
        ),
        (
            "00u2",
            "Grace",
            "Hopper",
            "grace@acme.test",
            UserStatus::Active,
        ),
        (
            "00u3",
            "Alan",
            "Turing",
            "alan@acme.test",
            UserStatus::Active,
        ),
        (
            "00u4",
            "Dana",
            "Scully",
            "dana@acme.test",
            UserStatus::Suspended,
        ),
        (
            "00u5",
            "Edsger",
            "Dijkstra",
            "edsger@acme.test",
            UserStatus::Active,
        ),
        (
            "00u6",
            "Barbara",
            "Liskov",
            "barbara@acme.test",
            UserStatus::Active,
        ),
    ];
    let mut b = InMemoryDirectory::builder("acme-hr").page_size(2);
    for (id, given, family, email, status) in people {
        let mut u = DirectoryUser::new(id, email).with_email(email, true);
        u.name.given_name = Some(given.into());
        u.name.family_name = Some(family.into());
        u.display_name = Some(format!("{given} {family}").into());
        u.department = Some("Research".into());
        u.status = status;
        b = b.user(u);
    }
    b.build()
}

fn policy() -> Policy {
    Policy {
        mapping: Mapping::new(Attribute::PrimaryEmail)
            .field("name", Attribute::DisplayName)
            .field("department", Attribute::Department),
        ..Policy::default()
    }
}

const FIRST_CSV: &str = "email,location,name,desk
ada@acme.test,ber,Ada L.,B-12
visitor@partner.test,ber,Vera Visitor,Lobby
not-an-email,ber,Broken Row,
grace@acme.test,Munich,Grace H.,M-3
";

const LATER_CSV: &str = "email,location,name,desk
alan@acme.test,ber,Alan from CSV,B-40
visitor@partner.test,ber,Vera Visitor,Lobby 2
";

/// Runs the walkthrough on a fresh database at `db`, printing as it goes.
pub async fn run_host_demo(db: &Path, csv_dir: &Path) -> Result<HostDemoOutcome> {
    let _ = std::fs::remove_file(db);
    let mut host = SqliteHost::open(db)?;
    let locations = [
        Location::new("ber", "Berlin"),
        Location::new("muc", "Munich"),
    ];
    for l in &locations {
        host.upsert_location(l)?;
    }
    let mut out = HostDemoOutcome::default();

    println!("1. The host imports a CSV before any directory is connected.");
    let csv_path = csv_dir.join("recipients.csv");
    std::fs::write(&csv_path, FIRST_CSV)?;
    let import = read_csv(std::fs::File::open(&csv_path)?, &locations, None)?;
    out.csv_row_errors = import.errors.iter().map(|e| e.line).collect();
    for e in &import.errors {
        println!("   CSV line {}: {}", e.line, e.message);
    }
    let csv_plan = plan_csv(&import, &policy(), &host.host_data()?.locations);
    out.csv_created = host.apply(&csv_plan.plan, "csv")?.inserted;
    println!("   {} CSV recipients created\n", out.csv_created);

    let dir = directory();
    let strict = policy();
    println!("2. First directory sync. The policy does not let the directory adopt CSV records.");
    let plan = sync(&dir, &strict, &mut host).await?;
    out.first_sync_operations = plan.0;
    out.first_sync_conflicts = plan.1;

    println!("3. Second sync of the unchanged directory.");
    out.second_sync_operations = sync(&dir, &strict, &mut host).await?.0;

    println!("4. The customer lets the directory adopt CSV records.");
    let mut adopting = policy();
    adopting.ownership.directory_updates_csv = true;
    out.adopt_operations = sync(&dir, &adopting, &mut host).await?.0;

    println!("5. Edsger leaves the directory.");
    dir.update(|d| d.users.retain(|u| u.id != "00u5"));
    out.leaver_operations = sync(&dir, &adopting, &mut host).await?.0;

    println!("6. A later CSV import touches a directory-owned record (Alan) and a CSV one (Vera).");
    let later = csv_dir.join("later.csv");
    std::fs::write(&later, LATER_CSV)?;
    let import = read_csv(std::fs::File::open(&later)?, &locations, None)?;
    let before = host.host_data()?;
    let csv_plan = plan_csv(&import, &adopting, &before.locations);
    print!("{}", report::plan_summary(&csv_plan.plan, 5));
    let directory_owned: HashSet<&str> = before
        .locations
        .iter()
        .flat_map(|l| &l.records)
        .filter(|r| r.directory_owned())
        .map(|r| r.id.as_str())
        .collect();
    out.csv_after_sync_updates = csv_plan
        .plan
        .operations()
        .filter(|op| matches!(op, Operation::Update(c) if directory_owned.contains(c.record_id.as_str())))
        .count() as u64;
    out.csv_after_sync_refused = csv_plan.row_errors.iter().map(|e| e.line).collect();
    for e in &csv_plan.row_errors {
        println!("   CSV line {} refused: {}", e.line, e.message);
    }
    host.apply(&csv_plan.plan, "csv")?;
    out.runs = host.runs()?;
    println!("\nrecords by (source, active): {:?}", host.census()?);
    Ok(out)
}

/// One sync: snapshot, plan location by location, apply. Returns the
/// operation and conflict counts.
async fn sync(
    dir: &InMemoryDirectory,
    policy: &Policy,
    host: &mut SqliteHost,
) -> Result<(u64, u64)> {
    let snapshot = dir.snapshot().await.context("collecting the directory")?;
    let plan = plan_host(&snapshot, policy, host)?;
    print!("{}", report::plan_summary(&plan, 8));
    let applied = host.apply(&plan, &snapshot.provider)?;
    println!(
        "   applied in one transaction: {} inserted, {} updated\n",
        applied.inserted, applied.updated
    );
    Ok((plan.counts.operations(), plan.counts.conflicts))
}
