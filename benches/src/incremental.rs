//! Second syncs through the provider-neutral incremental API
//! ([`DirectoryProviderExt::sync`]): a directory that did not change, and one
//! with 1% of its users changed, each against the fewest requests that
//! provider's API allows for that change.
//!
//! * Okta's floor: one `lastUpdated ge` page of users per 200 changed users
//!   (at least one), one `lastUpdated`/`lastMembershipUpdated` page of
//!   groups per 10,000 changed groups (at least one), the member pages
//!   (1,000 a page) of each changed group, one System Log page when
//!   `okta.logs.read` is granted, and the app's users in full (500 a page;
//!   Okta has no change filter for them).
//! * Entra's floor: one `users/delta` and one `groups/delta` page per 200
//!   changed objects (the simulated tenant's delta page; at least one each)
//!   and the app's assignments in full (999 a page; Graph has no delta for
//!   them).
//! * Wall time's floor: latency x the larger of the longest chain of pages
//!   that must follow one another and the floor's requests over the
//!   requests in flight.
//!
//! Each incremental snapshot is checked against the organisation's ground
//! truth, which a full collection equals (see [`crate::fetch`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use azure_directory::testkit::{MemberType, SimMember, TenantData, TenantHandle, TenantMut};
use azure_directory::AzureDirectory;
use directory_core::{
    DirectoryProviderExt, Membership, Snapshot, SnapshotChanges, SyncOptions, SyncRound, SyncState,
    UserStatus,
};
use okta_directory::OktaDirectory;

use crate::fetch::{okta_app_pages, pages, OrgSize};
use crate::table::process_cpu;

/// Objects per page of the simulated Graph delta queries.
const DELTA_PAGE: usize = 200;

/// Requests beyond the app's pages that an unchanged directory may take and
/// still count as "a handful".
pub const HANDFUL: u64 = 5;

/// Which second sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Nothing changed since the first sync.
    Unchanged,
    /// 1% of the users changed since the previous sync.
    OnePercent,
}

/// The fewest requests a second sync needs, by listing.
#[derive(Debug, Clone, Default)]
pub struct Floor {
    /// `(listing, pages)` in the order a client reads them.
    pub parts: Vec<(&'static str, u64)>,
    /// Longest chain of pages that must follow one another.
    pub chain: u64,
    /// Pages of the app's assignments (read in full every round).
    pub app_pages: u64,
}

impl Floor {
    /// The fewest requests.
    pub fn requests(&self) -> u64 {
        self.parts.iter().map(|(_, n)| n).sum()
    }

    /// `1 users + 1 groups + 10 app users`.
    pub fn describe(&self) -> String {
        self.parts
            .iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// The wall-time floor at `latency` with `concurrency` requests in flight.
    pub fn wall(&self, latency: Duration, concurrency: usize) -> Duration {
        let spread = self.requests().div_ceil(concurrency.max(1) as u64);
        latency * self.chain.max(spread) as u32
    }
}

/// What one second sync measured.
#[derive(Debug, Clone)]
pub struct RoundFigures {
    /// `okta` or `azure`.
    pub provider: &'static str,
    /// Which second sync.
    pub scenario: Scenario,
    /// How the provider found deletions, where that varies (`System Log
    /// read`, `no System Log`).
    pub mode: Option<&'static str>,
    /// Requests the round made, token requests aside.
    pub requests: u64,
    /// The fewest requests for this change.
    pub floor: Floor,
    /// Wall time of the `sync` call.
    pub wall: Duration,
    /// CPU time the process (client and simulated organisation) used
    /// meanwhile, where it can be read.
    pub cpu: Option<Duration>,
    /// The wall-time floor.
    pub wall_floor: Duration,
    /// Whether the round was incremental (a full round says why).
    pub full_reason: Option<String>,
    /// What the round reported as changed.
    pub changes: SnapshotChanges,
    /// Users in the new snapshot.
    pub users: usize,
}

impl RoundFigures {
    /// The most requests the goal allows: a handful plus the app's pages
    /// for an unchanged directory, twice the floor for 1% changed.
    pub fn request_bound(&self) -> u64 {
        match self.scenario {
            Scenario::Unchanged => HANDFUL + self.floor.app_pages,
            Scenario::OnePercent => 2 * self.floor.requests(),
        }
    }

    /// Whether the round was incremental and within [`Self::request_bound`].
    pub fn requests_met(&self) -> bool {
        self.full_reason.is_none() && self.requests <= self.request_bound()
    }
}

/// Runs `sync` from `prev` as a host would (the state read back from JSON),
/// timing the call alone; `served` counts the organisation's requests,
/// token requests aside.
async fn timed_round<P: DirectoryProviderExt + ?Sized>(
    provider: &P,
    prev: &SyncRound,
    served: impl Fn() -> u64,
) -> (SyncRound, u64, Timing) {
    let state = match prev.state.to_json().and_then(|j| SyncState::from_json(&j)) {
        Ok(s) => s,
        Err(e) => panic!("the sync state does not go through JSON: {e}"),
    };
    let before = served();
    let cpu = process_cpu();
    let start = Instant::now();
    let round = match provider
        .sync(Some((&prev.snapshot, &state)), &SyncOptions::default())
        .await
    {
        Ok(r) => r,
        Err(e) => panic!("second sync of {provider}: {e}"),
    };
    let wall = start.elapsed();
    let cpu = process_cpu()
        .zip(cpu)
        .map(|(after, before)| after.saturating_sub(before));
    (round, served() - before, Timing { wall, cpu })
}

/// How long a round took.
#[derive(Debug, Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

#[allow(clippy::too_many_arguments)]
fn figures(
    provider: &'static str,
    scenario: Scenario,
    mode: Option<&'static str>,
    round: &SyncRound,
    truth: &Snapshot,
    requests: u64,
    timing: Timing,
    floor: Floor,
    size: OrgSize,
    concurrency: usize,
) -> RoundFigures {
    assert!(
        round.snapshot.same_directory(truth),
        "the {provider} snapshot after a second sync ({scenario:?}, {mode:?}) differs from \
         a full collection"
    );
    let full_reason = match &round.report.round {
        directory_core::RoundKind::Incremental => None,
        directory_core::RoundKind::Full { reason } => Some(reason.to_string()),
    };
    RoundFigures {
        provider,
        scenario,
        mode,
        requests,
        wall_floor: floor.wall(size.latency, concurrency),
        floor,
        wall: timing.wall,
        cpu: timing.cpu,
        full_reason,
        changes: round.report.changes,
        users: round.snapshot.users.len(),
    }
}

/// Okta: a full sync, then second syncs of the unchanged org and, after 1%
/// of its users changed, of the changed one; each with the System Log read
/// (`okta.logs.read` granted) and without it, from the same previous state.
pub async fn okta(size: OrgSize, concurrency: usize) -> Vec<RoundFigures> {
    let org = size.start_okta().await;
    let build = |log: bool| match org
        .provider_builder()
        .max_concurrency(concurrency)
        .system_log(log)
        .build()
    {
        Ok(p) => p,
        Err(e) => panic!("building the Okta provider: {e}"),
    };
    let providers: [(OktaDirectory, &'static str); 2] = [
        (build(true), "System Log read"),
        (build(false), "no System Log"),
    ];
    let served = || org.total_requests() - org.requests("token");
    let first = match providers[0].0.sync(None, &SyncOptions::default()).await {
        Ok(r) => r,
        Err(e) => panic!("first Okta sync: {e}"),
    };
    // The second provider's first token is not part of its round.
    let _ = timed_round(&providers[1].0, &first, served).await;

    let before = org.ground_truth();
    let unchanged_floor = |log| okta_floor(&before, &before, log);
    let mut out = Vec::new();
    let mut previous = Vec::new();
    for (provider, mode) in &providers {
        let log = *mode == "System Log read";
        let (round, requests, timing) = timed_round(provider, &first, served).await;
        out.push(figures(
            "okta",
            Scenario::Unchanged,
            Some(mode),
            &round,
            &before,
            requests,
            timing,
            unchanged_floor(log),
            size,
            concurrency,
        ));
        previous.push(round);
    }

    org.mutate(change_one_percent_okta);
    let after = org.ground_truth();
    for ((provider, mode), prev) in providers.iter().zip(&previous) {
        let log = *mode == "System Log read";
        let (round, requests, timing) = timed_round(provider, prev, served).await;
        out.push(figures(
            "okta",
            Scenario::OnePercent,
            Some(mode),
            &round,
            &after,
            requests,
            timing,
            okta_floor(&before, &after, log),
            size,
            concurrency,
        ));
    }
    out
}

/// Changes every 100th user, as an admin would over a day: six in ten get a
/// new title, one is suspended (or reactivated), one deactivated (or
/// reactivated), one is replaced by a newly created user, and one joins or
/// leaves a group. No deletions: without the System Log those wait for the
/// scheduled full round.
pub(crate) fn change_one_percent_okta(d: &mut directory_core::DirectoryData) {
    let groups: Vec<String> = d.groups.iter().map(|g| g.id.clone()).collect();
    let picked: Vec<usize> = (0..d.users.len()).step_by(100).collect();
    for (k, i) in picked.into_iter().enumerate() {
        let Some(u) = d.users.get_mut(i) else {
            continue;
        };
        let flip = |u: &mut directory_core::DirectoryUser, to: UserStatus| {
            u.status = if u.status == to {
                UserStatus::Active
            } else {
                to
            };
        };
        match k % 10 {
            0..=5 => u.title = Some(format!("Bench title {k}").into()),
            6 => flip(u, UserStatus::Suspended),
            7 => flip(u, UserStatus::Deprovisioned),
            8 => {
                let mut new = u.clone();
                new.id = format!("00uBENCH{k:012}");
                new.user_name = format!("bench{k}@example.test");
                d.users.push(new);
            }
            _ => {
                let user = u.id.clone();
                match d.memberships.iter().position(|m| m.user_id == user) {
                    Some(at) if k % 20 == 19 => {
                        d.memberships.remove(at);
                    }
                    _ => {
                        let joins = (0..groups.len())
                            .map(|j| (k * 7 + j) % groups.len())
                            .filter_map(|j| groups.get(j))
                            .find(|g| {
                                !d.memberships
                                    .iter()
                                    .any(|m| &m.group_id == *g && m.user_id == user)
                            });
                        if let Some(g) = joins {
                            d.memberships.push(Membership::direct(g.clone(), user));
                        }
                    }
                }
            }
        }
    }
}

/// Members per group, by group id.
fn members_by_group(s: &Snapshot) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut by_group: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in &s.memberships {
        by_group
            .entry(m.group_id.as_str())
            .or_default()
            .insert(m.user_id.as_str());
    }
    by_group
}

/// Okta's floor for going from `before` to `after`.
pub(crate) fn okta_floor(before: &Snapshot, after: &Snapshot, log: bool) -> Floor {
    let changed_users = after
        .users
        .iter()
        .filter(|u| before.user(&u.id) != Some(*u))
        .count();
    let (old_members, new_members) = (members_by_group(before), members_by_group(after));
    let empty = BTreeSet::new();
    let changed_groups: Vec<&str> = after
        .groups
        .iter()
        .filter(|g| {
            before.group(&g.id) != Some(*g)
                || old_members.get(g.id.as_str()) != new_members.get(g.id.as_str())
        })
        .map(|g| g.id.as_str())
        .collect();
    let member_pages: Vec<u64> = changed_groups
        .iter()
        .map(|g| pages(new_members.get(g).unwrap_or(&empty).len(), 1_000))
        .collect();
    let users = pages(changed_users, 200);
    let groups = pages(changed_groups.len(), 10_000);
    let app_pages = okta_app_pages(after);
    let mut parts = vec![
        ("users changed-since", users),
        ("groups changed-since", groups),
    ];
    if !member_pages.is_empty() {
        parts.push(("member pages", member_pages.iter().sum()));
    }
    if log {
        parts.push(("System Log", 1));
    }
    parts.push(("app users", app_pages));
    let longest_members = member_pages.iter().copied().max().unwrap_or(0);
    Floor {
        parts,
        chain: users.max(groups + longest_members).max(app_pages),
        app_pages,
    }
}

/// Entra: the second sync of the unchanged tenant and, after 1% of its
/// users changed, of the changed one, from a first (full) `sync`.
pub(crate) async fn azure(
    tenant: &TenantHandle,
    provider: &AzureDirectory,
    size: OrgSize,
    concurrency: usize,
) -> Vec<RoundFigures> {
    let first = match provider.sync(None, &SyncOptions::default()).await {
        Ok(r) => r,
        Err(e) => panic!("first Entra sync: {e}"),
    };
    let served = || tenant.requests().graph();
    let (before, truth) = (tenant.data(), tenant.ground_truth());
    let (unchanged, requests, timing) = timed_round(provider, &first, served).await;
    let mut out = vec![figures(
        "azure",
        Scenario::Unchanged,
        None,
        &unchanged,
        &truth,
        requests,
        timing,
        azure_floor(&before, &before),
        size,
        concurrency,
    )];
    tenant.mutate(change_one_percent_azure);
    let (after, truth) = (tenant.data(), tenant.ground_truth());
    let (changed, requests, timing) = timed_round(provider, &unchanged, served).await;
    out.push(figures(
        "azure",
        Scenario::OnePercent,
        None,
        &changed,
        &truth,
        requests,
        timing,
        azure_floor(&before, &after),
        size,
        concurrency,
    ));
    out
}

/// Changes every 100th user of an Entra tenant: seven in ten get a new
/// title, one is disabled (or enabled), one is replaced by a newly created
/// user, one joins a group.
pub(crate) fn change_one_percent_azure(m: &mut TenantMut<'_>) {
    let picked: Vec<String> = m
        .data()
        .users
        .iter()
        .step_by(100)
        .map(|u| u.id.clone())
        .collect();
    let groups: Vec<String> = m.data().groups.iter().map(|g| g.id.clone()).collect();
    for (k, id) in picked.iter().enumerate() {
        match k % 10 {
            0..=6 => {
                m.update_user(id, |u| u.job_title = Some(format!("Bench title {k}")));
            }
            7 => {
                m.update_user(id, |u| u.account_enabled = !u.account_enabled);
            }
            8 => {
                let u = m.new_user(&format!("bench{k}"));
                m.add_user(u);
            }
            _ => {
                let member = SimMember {
                    id: id.clone(),
                    kind: MemberType::User,
                };
                // Joins the first group (from a spread start) it is not in.
                let _joined = (0..groups.len())
                    .filter_map(|j| groups.get((k * 7 + j) % groups.len()))
                    .any(|g| m.add_member(g, member.clone()));
            }
        }
    }
}

/// Entra's floor for going from `before` to `after`: the changed users and
/// the groups whose profile or direct members changed, in delta pages.
pub(crate) fn azure_floor(before: &TenantData, after: &TenantData) -> Floor {
    let old_users: BTreeMap<&str, _> = before.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let changed_users = after
        .users
        .iter()
        .filter(|u| old_users.get(u.id.as_str()) != Some(u))
        .count();
    let old_groups: BTreeMap<&str, _> = before.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let member_set = |d: &TenantData, g: &str| -> BTreeSet<String> {
        d.members
            .get(g)
            .map(|l| l.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default()
    };
    let changed_groups = after
        .groups
        .iter()
        .filter(|g| {
            old_groups.get(g.id.as_str()) != Some(g)
                || member_set(before, &g.id) != member_set(after, &g.id)
        })
        .count();
    let users = pages(changed_users, DELTA_PAGE);
    let groups = pages(changed_groups, DELTA_PAGE);
    let app_pages = pages(after.assignments.len(), 999);
    Floor {
        parts: vec![
            ("users/delta", users),
            ("groups/delta", groups),
            ("app assignments", app_pages),
        ],
        chain: users.max(groups).max(app_pages),
        app_pages,
    }
}
