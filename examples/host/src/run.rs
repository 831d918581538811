//! The sync a host runs against a real org: check, collect, plan, write the
//! plan, and apply it unless this is a dry run.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use directory_core::{DirectoryProvider, Snapshot};
use recipient_reconcile::{Location, Plan, Policy, Reconciler};

use crate::progress::FetchBars;
use crate::report;
use crate::sqlite::{Applied, SqliteHost};

/// What a sync run is told to do.
#[derive(Debug, Clone)]
pub struct SyncArgs {
    /// The host's SQLite file.
    pub database: PathBuf,
    /// Where to write the plan as JSON.
    pub plan_out: PathBuf,
    /// Write the plan but do not apply it.
    pub dry_run: bool,
    /// The customer's policy.
    pub policy: Policy,
    /// Locations to create in the host if it has none.
    pub locations: Vec<Location>,
}

impl SyncArgs {
    /// Reads the command line (`--dry-run`, `--plan PATH`, `--db PATH`) and
    /// the environment (`SYNC_DB`, `SYNC_PLAN`, `SYNC_POLICY_FILE`,
    /// `SYNC_LOCATIONS` as `id:Name,id:Name`).
    pub fn from_env_and_args(args: impl IntoIterator<Item = String>) -> Result<Self> {
        let mut out = Self {
            database: env_path("SYNC_DB", "directory-sync.sqlite"),
            plan_out: env_path("SYNC_PLAN", "plan.json"),
            dry_run: false,
            policy: Policy::default(),
            locations: parse_locations(&std::env::var("SYNC_LOCATIONS").unwrap_or_default())?,
        };
        if let Ok(path) = std::env::var("SYNC_POLICY_FILE") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading SYNC_POLICY_FILE {path}"))?;
            out.policy = serde_json::from_str(&text)
                .with_context(|| format!("SYNC_POLICY_FILE {path} is not a valid policy"))?;
        }
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--dry-run" => out.dry_run = true,
                "--plan" => out.plan_out = args.next().context("--plan needs a path")?.into(),
                "--db" => out.database = args.next().context("--db needs a path")?.into(),
                other => {
                    bail!("unknown argument {other:?} (use --dry-run, --plan PATH, --db PATH)")
                }
            }
        }
        Ok(out)
    }
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into())
}

/// Parses `id:Name,id:Name` (a bare `id` names itself).
pub fn parse_locations(spec: &str) -> Result<Vec<Location>> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once(':') {
            Some((id, name)) if !id.trim().is_empty() => Ok(Location::new(id.trim(), name.trim())),
            Some(_) => bail!("SYNC_LOCATIONS entry {s:?} has no id"),
            None => Ok(Location::new(s, s)),
        })
        .collect()
}

/// How a sync run ended.
#[derive(Debug)]
pub enum SyncOutcome {
    /// `check()` found problems; nothing was fetched. The text lists each
    /// problem with its fix.
    CheckFailed(String),
    /// The plan was written (and applied unless a dry run).
    Planned {
        /// The plan.
        plan: Box<Plan>,
        /// What was applied; `None` on a dry run.
        applied: Option<Applied>,
    },
}

/// Runs one sync: check, collect with progress bars, plan against the SQLite
/// host location by location, write the plan, apply it in one transaction.
pub async fn run_sync<P: DirectoryProvider>(provider: &P, args: &SyncArgs) -> Result<SyncOutcome> {
    let name = provider.to_string();
    let check = provider.check().await;
    let check_text = report::check_report(&name, &check);
    println!("{check_text}");
    if !check.is_ok() {
        return Ok(SyncOutcome::CheckFailed(check_text));
    }
    let bars = FetchBars::new(&name);
    let snapshot = Snapshot::collect(provider, &bars.options())
        .await
        .with_context(|| format!("collecting the directory from {name}: no plan was made"))?;
    for line in bars.finish() {
        println!("{line}");
    }
    let mut host = SqliteHost::open(&args.database)?;
    if host.locations()?.is_empty() {
        let locations = if args.locations.is_empty() {
            vec![Location::new("default", "Default")]
        } else {
            args.locations.clone()
        };
        for l in &locations {
            host.upsert_location(l)?;
        }
    }
    let plan = plan_host(&snapshot, &args.policy, &host)?;
    std::fs::write(&args.plan_out, plan.to_json()?)
        .with_context(|| format!("writing the plan to {}", args.plan_out.display()))?;
    println!("{}", report::plan_summary(&plan, 5));
    println!("{}", report::candidates(&plan, 10));
    println!("plan written to {}", args.plan_out.display());
    if args.dry_run {
        println!("dry run: nothing applied");
        return Ok(SyncOutcome::Planned {
            plan: Box::new(plan),
            applied: None,
        });
    }
    let applied = host.apply(&plan, &name)?;
    println!(
        "applied in one transaction: {} inserted, {} updated",
        applied.inserted, applied.updated
    );
    Ok(SyncOutcome::Planned {
        plan: Box::new(plan),
        applied: Some(applied),
    })
}

/// Plans against the SQLite host one location at a time: only one location's
/// records are in memory at once. A safety stop names every location it
/// concerns, with the numbers.
pub fn plan_host(snapshot: &Snapshot, policy: &Policy, host: &SqliteHost) -> Result<Plan> {
    let reconciler = Reconciler::new(snapshot, policy)?;
    let mut outcomes = Vec::new();
    for location in host.locations()? {
        let records = host.records(&location.id)?;
        outcomes.push(reconciler.plan_location(&location, &records));
    }
    Ok(reconciler.finish(outcomes, &host.users()?)?)
}

/// Ends an example: on error, prints the error chain (no backtrace noise
/// for a configuration mistake) and exits with status 1.
pub fn exit_on_error(result: Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The whole of `okta_sync` and `azure_sync`: arguments and environment in,
/// the provider from `provider`, then [`run_sync`]. Exits with status 2 when
/// `check()` found problems (they are printed with their fixes).
pub async fn sync_from_env<P: DirectoryProvider>(
    provider: impl FnOnce() -> directory_core::Result<P>,
) -> Result<()> {
    let args = SyncArgs::from_env_and_args(std::env::args().skip(1))?;
    let provider = provider()?;
    match run_sync(&provider, &args).await? {
        SyncOutcome::CheckFailed(_) => std::process::exit(2),
        SyncOutcome::Planned { .. } => Ok(()),
    }
}
