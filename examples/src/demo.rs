//! The demo: the whole flow on the simulated Okta org and Entra tenant, as a
//! function the `demo` example runs and a test checks.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use directory_core::{DirectoryProvider, MembershipKind, Snapshot};
use recipient_reconcile::{
    apply, HostData, HostLocation, HostUser, Location, Plan, Policy, Recipient, Scope, Source,
};

use crate::progress::FetchBars;
use crate::report;

/// How big the simulated organisations are.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    /// Users per organisation.
    pub users: usize,
    /// Groups per organisation.
    pub groups: usize,
    /// Users assigned to the SSO app.
    pub app_users: usize,
}

impl Default for DemoSize {
    fn default() -> Self {
        Self {
            users: 2_000,
            groups: 60,
            app_users: 250,
        }
    }
}

/// What one provider's run showed.
#[derive(Debug, Clone)]
pub struct DemoRun {
    /// The provider's name.
    pub provider: String,
    /// Users in the snapshot.
    pub users: usize,
    /// The first plan.
    pub first: Plan,
    /// The second plan, after applying the first: empty.
    pub second: Plan,
}

/// Three host locations, each fed by one directory group: the groups with
/// the most direct members (nested parents would repeat their children).
fn policy_for(snapshot: &Snapshot) -> (Policy, Vec<Location>, Vec<String>) {
    let locations = vec![
        Location::new("ber", "Berlin"),
        Location::new("muc", "Munich"),
        Location::new("rem", "Remote"),
    ];
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for m in snapshot
        .memberships
        .iter()
        .filter(|m| m.kind == MembershipKind::Direct)
    {
        *sizes.entry(m.group_id.as_str()).or_default() += 1;
    }
    let mut sizes: Vec<(usize, &str)> = sizes.into_iter().map(|(g, n)| (n, g)).collect();
    sizes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let groups: Vec<String> = sizes
        .iter()
        .take(locations.len())
        .map(|(_, g)| g.to_string())
        .collect();
    let pairs = groups
        .iter()
        .zip(&locations)
        .map(|(g, l)| (g.clone(), l.id.clone()));
    let policy = Policy {
        scope: Scope::groups(pairs),
        ..Policy::default()
    };
    (policy, locations, groups)
}

/// The host before the sync: a CSV import (one row per location matches a
/// directory user the policy may not adopt), a hand-made record, and records
/// a previous sync made for people who have since left the directory.
fn host_for(snapshot: &Snapshot, locations: &[Location], groups: &[String]) -> HostData {
    let member_email = |group: &String| {
        snapshot
            .memberships
            .iter()
            .filter(|m| &m.group_id == group)
            .filter_map(|m| snapshot.user(&m.user_id))
            .find_map(|u| u.primary_email())
    };
    let mut host = HostData::default();
    for (i, location) in locations.iter().enumerate() {
        let mut records = vec![
            Recipient::new(
                format!("{}-csv-1", location.id),
                &location.id,
                Source::Csv,
                "reception@partner.test",
            )
            .with_field("display_name", "Front desk"),
            Recipient::new(
                format!("{}-manual-1", location.id),
                &location.id,
                Source::Manual,
                "ceo@host.test",
            )
            .with_field("display_name", "The CEO"),
        ];
        for k in 0..2 {
            records.push(
                Recipient::new(
                    format!("{}-old-{k}", location.id),
                    &location.id,
                    Source::Directory,
                    format!("left{k}@gone.test"),
                )
                .with_external_id(format!("gone-{i}-{k}"))
                .with_field("display_name", "Someone who left"),
            );
        }
        if let Some(email) = groups.get(i).and_then(member_email) {
            records.push(Recipient::new(
                format!("{}-csv-2", location.id),
                &location.id,
                Source::Csv,
                email.to_lowercase(),
            ));
        }
        host.locations.push(HostLocation {
            location: location.clone(),
            records,
        });
    }
    // One person already logs in: not an SSO candidate.
    if let Some(a) = snapshot.app_assignments.first() {
        if let Some(email) = snapshot.user(&a.user_id).and_then(|u| u.primary_email()) {
            host.users.push(HostUser::new(email));
        }
    }
    host
}

/// Syncs `provider` twice into an in-memory host, printing as it goes, and
/// writes the first plan as JSON into `out_dir`.
pub async fn run_provider<P: DirectoryProvider>(provider: &P, out_dir: &Path) -> Result<DemoRun> {
    let name = provider.to_string();
    println!("\n=== {name} ===");
    let check = provider.check().await;
    print!("{}", report::check_report(&name, &check));
    anyhow::ensure!(check.is_ok(), "check() found problems");

    let snapshot = collect(provider).await?;
    let (policy, locations, groups) = policy_for(&snapshot);
    let mut host = host_for(&snapshot, &locations, &groups);
    let first = recipient_reconcile::reconcile(&snapshot, &policy, &host)?;
    print!("{}", report::plan_summary(&first, 4));
    print!("{}", report::candidates(&first, 5));
    std::fs::create_dir_all(out_dir)?;
    let file = out_dir.join(format!("plan-{}.json", slug(&name)));
    std::fs::write(&file, first.to_json()?)
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "plan written to {} (hash {})",
        file.display(),
        &first.hash[..12]
    );
    apply(&mut host, &first)?;
    println!("applied: {} operations", first.counts.operations());

    println!("second sync of the unchanged directory:");
    let again = collect(provider).await?;
    let second = recipient_reconcile::reconcile(&again, &policy, &host)?;
    println!(
        "second plan: {} operations{}",
        second.counts.operations(),
        if second.is_empty() {
            " (nothing to do)"
        } else {
            ""
        }
    );
    Ok(DemoRun {
        provider: name,
        users: snapshot.users.len(),
        first,
        second,
    })
}

async fn collect<P: DirectoryProvider>(provider: &P) -> Result<Snapshot> {
    let bars = FetchBars::new(provider.to_string());
    let snapshot = Snapshot::collect(provider, &bars.options())
        .await
        .with_context(|| {
            format!("collecting {provider}: no plan is made from a partial directory")
        })?;
    for line in bars.finish() {
        println!("{line}");
    }
    Ok(snapshot)
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// Starts both simulated organisations and runs the flow against each.
pub async fn run_demo(size: DemoSize, out_dir: &Path) -> Result<Vec<DemoRun>> {
    println!(
        "starting a simulated Okta org and a simulated Entra tenant on 127.0.0.1 ({} users each)",
        size.users
    );
    let okta_org = okta_directory::testkit::OktaOrg::builder()
        .seed(7)
        .users(size.users)
        .groups(size.groups)
        .app_users(size.app_users)
        .start()
        .await?;
    let tenant = azure_directory::testkit::SimulatedTenant::builder()
        .seed(7)
        .users(size.users)
        .groups(size.groups)
        .app_users(size.app_users)
        .start()
        .await?;
    let okta = okta_org.provider_builder().build()?;
    let azure = tenant.provider()?;
    let mut runs = vec![run_provider(&okta, out_dir).await?];
    runs.push(run_provider(&azure, out_dir).await?);
    let entra = tenant.requests();
    println!(
        "\nrequests served: okta {} (429s: {}), entra {} (429s: {})",
        okta_org.total_requests(),
        okta_org.rate_limited(),
        entra.total,
        entra.throttled
    );
    Ok(runs)
}
