//! Incremental sync behind one provider-neutral call.
//!
//! A host keeps two things per connection between rounds: the last complete
//! [`Snapshot`] and a [`SyncState`] (opaque, versioned JSON). It calls
//! [`DirectoryProviderExt::sync`](crate::DirectoryProviderExt::sync) with both
//! and gets back the new complete snapshot, the new state and a [`SyncReport`]
//! that says whether the round was full or incremental, why a full round was
//! forced, how many requests it made and what changed.
//!
//! An incremental round is a hint; a full round is the truth. The driver
//! forces a full round whenever the state cannot prove nothing was missed: no
//! state, a state of another directory, a state older than
//! [`SyncOptions::max_state_age`], every [`SyncOptions::full_every`] rounds,
//! and whenever the provider itself cannot tell (it then says why). A provider
//! without incremental support collects in full behind the same call.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{DirectoryGroup, DirectoryUser, Membership};
use crate::snapshot::{CollectOptions, Snapshot};

/// The [`SyncState`] format this release writes and reads.
pub const SYNC_STATE_VERSION: u32 = 1;

/// What a provider keeps between rounds: which directory it belongs to, when
/// the last full round ran, and the provider's own cursor data (delta links,
/// timestamps, a change-log position). Store it as JSON beside the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    version: u32,
    directory: String,
    saved_at: DateTime<Utc>,
    last_full_at: DateTime<Utc>,
    rounds_since_full: u32,
    #[serde(default)]
    cursor: serde_json::Value,
}

impl SyncState {
    /// The directory this state belongs to, as the provider's `Display` names it.
    pub fn directory(&self) -> &str {
        &self.directory
    }

    /// When the round that wrote this state finished.
    pub fn saved_at(&self) -> DateTime<Utc> {
        self.saved_at
    }

    /// When the last full round ran.
    pub fn last_full_at(&self) -> DateTime<Utc> {
        self.last_full_at
    }

    /// Incremental rounds since the last full one.
    pub fn rounds_since_full(&self) -> u32 {
        self.rounds_since_full
    }

    /// The provider's own data, for [`DirectoryProvider::sync_round`](crate::DirectoryProvider::sync_round).
    pub fn cursor(&self) -> &serde_json::Value {
        &self.cursor
    }

    /// The state as JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::config("sync state", format!("cannot be written: {e}")))
    }

    /// Reads a state written by [`SyncState::to_json`]. A state written by a
    /// newer release, or bytes that are not a state, are an `InvalidConfig`
    /// error that says so; pass no state to run a full round instead.
    pub fn from_json(json: &str) -> Result<SyncState> {
        let version = peek_version(json)?;
        if version > SYNC_STATE_VERSION {
            return Err(Error::config(
                "sync state",
                format!(
                    "was written by a newer release (format {version}; this release reads up \
                     to {SYNC_STATE_VERSION}): upgrade, or drop the state to run a full round"
                ),
            ));
        }
        serde_json::from_str(json).map_err(|e| corrupt(&e))
    }

    fn after(previous: Option<&SyncState>, round: &ProviderRound, directory: &str) -> SyncState {
        let now = Utc::now();
        let (last_full_at, rounds_since_full) = match (round.incremental, previous) {
            (true, Some(p)) => (p.last_full_at, p.rounds_since_full.saturating_add(1)),
            _ => (now, 0),
        };
        SyncState {
            version: SYNC_STATE_VERSION,
            directory: directory.to_string(),
            saved_at: now,
            last_full_at,
            rounds_since_full,
            cursor: round.cursor.clone(),
        }
    }
}

fn peek_version(json: &str) -> Result<u32> {
    #[derive(Deserialize)]
    struct Envelope {
        version: u32,
    }
    serde_json::from_str::<Envelope>(json)
        .map(|e| e.version)
        .map_err(|e| corrupt(&e))
}

fn corrupt(e: &serde_json::Error) -> Error {
    // The message names the line and column only: a state may hold links
    // that should not end up in an admin's error report.
    Error::config(
        "sync state",
        format!(
            "is not a sync state (line {}, column {}): drop it to run a full round",
            e.line(),
            e.column()
        ),
    )
}

/// How the driver decides between full and incremental rounds.
///
/// An incremental round is a hint; a full round is the truth. A round is
/// full when there is no previous snapshot and state, when either belongs to
/// another directory, when the state is older than `max_state_age` (or
/// dated in the future: a clock jumped), every `full_every` rounds, and
/// whenever the provider itself cannot prove nothing was missed.
#[derive(Clone)]
pub struct SyncOptions {
    /// Options for the full collections.
    pub collect: CollectOptions,
    /// A full round after this many incremental ones (deletions some
    /// providers cannot see incrementally are caught then). `0` makes every
    /// round full.
    pub full_every: u32,
    /// A state older than this is not trusted: the round is full.
    pub max_state_age: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            collect: CollectOptions::default(),
            full_every: 24,
            max_state_age: Duration::days(7),
        }
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("full_every", &self.full_every)
            .field("max_state_age", &self.max_state_age)
            .finish_non_exhaustive()
    }
}

/// Why a round was full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum FullReason {
    /// No previous snapshot and state were given.
    NoState,
    /// The state or snapshot belongs to another directory.
    OtherDirectory {
        /// The directory the state names.
        state: String,
        /// The directory this provider reads.
        provider: String,
    },
    /// [`SyncOptions::full_every`] incremental rounds have run.
    Scheduled {
        /// Incremental rounds since the last full one.
        rounds: u32,
    },
    /// The state is older than [`SyncOptions::max_state_age`].
    StateTooOld {
        /// When the state was saved.
        saved_at: DateTime<Utc>,
    },
    /// The provider has no incremental rounds.
    Unsupported,
    /// The provider could not prove nothing was missed (an expired delta
    /// token, a gap in a change log): its own words.
    Provider {
        /// What the provider said.
        detail: String,
    },
}

impl fmt::Display for FullReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FullReason::NoState => f.write_str("no previous state"),
            FullReason::OtherDirectory { state, provider } => {
                write!(f, "the state belongs to {state}, not {provider}")
            }
            FullReason::Scheduled { rounds } => {
                write!(f, "scheduled after {rounds} incremental rounds")
            }
            FullReason::StateTooOld { saved_at } => write!(f, "the state is from {saved_at}"),
            FullReason::Unsupported => f.write_str("the provider has no incremental rounds"),
            FullReason::Provider { detail } => f.write_str(detail),
        }
    }
}

/// Whether a round was full or incremental.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RoundKind {
    /// Everything was read.
    Full {
        /// Why.
        #[serde(flatten)]
        reason: FullReason,
    },
    /// Only what changed was read.
    Incremental,
}

impl RoundKind {
    /// Whether the round read everything.
    pub fn is_full(&self) -> bool {
        matches!(self, RoundKind::Full { .. })
    }
}

/// The previous round as a provider's [`sync_round`](crate::DirectoryProvider::sync_round) sees it.
#[derive(Debug, Clone, Copy)]
pub struct PreviousRound<'a> {
    /// The last complete snapshot.
    pub snapshot: &'a Snapshot,
    /// The provider's cursor from the last round.
    pub cursor: &'a serde_json::Value,
}

/// The previous round handed over whole, for a provider's
/// [`sync_round_owned`](crate::DirectoryProvider::sync_round_owned): the
/// provider may take the snapshot apart, moving what did not change into
/// the new one instead of copying it, so a round holds one snapshot, not
/// two.
#[derive(Debug, Clone)]
pub struct OwnedPreviousRound {
    /// The last complete snapshot.
    pub snapshot: Snapshot,
    /// The provider's cursor from the last round.
    pub cursor: serde_json::Value,
}

impl OwnedPreviousRound {
    /// The round lent, for a provider that only reads it.
    pub fn lend(&self) -> PreviousRound<'_> {
        PreviousRound {
            snapshot: &self.snapshot,
            cursor: &self.cursor,
        }
    }
}

/// The previous snapshot as a provider's merge gets it: lent by
/// [`sync_round`](crate::DirectoryProvider::sync_round) (unchanged parts
/// are copied) or handed over by
/// [`sync_round_owned`](crate::DirectoryProvider::sync_round_owned)
/// (unchanged parts are moved).
#[derive(Debug)]
pub enum PreviousSnapshot<'a> {
    /// Lent: read it, copy what is kept.
    Lent(&'a Snapshot),
    /// Handed over: take it apart.
    Given(Snapshot),
}

/// A previous snapshot's users, groups and memberships, as a merge takes
/// them: borrowed when it was lent, owned when it was handed over.
pub type PreviousParts<'a> = (
    Cow<'a, [DirectoryUser]>,
    Cow<'a, [DirectoryGroup]>,
    Cow<'a, [Membership]>,
);

impl<'a> PreviousSnapshot<'a> {
    /// The users, groups and memberships a merge keeps from (borrowed when
    /// lent, moved out when handed over; the app's assignments, which a
    /// round reads in full, are left behind).
    pub fn into_parts(self) -> PreviousParts<'a> {
        match self {
            PreviousSnapshot::Lent(s) => (
                Cow::Borrowed(&s.users),
                Cow::Borrowed(&s.groups),
                Cow::Borrowed(&s.memberships),
            ),
            PreviousSnapshot::Given(s) => (
                Cow::Owned(s.users),
                Cow::Owned(s.groups),
                Cow::Owned(s.memberships),
            ),
        }
    }
}

/// What a provider's [`sync_round`](crate::DirectoryProvider::sync_round) returns.
#[derive(Debug, Clone)]
pub struct ProviderRound {
    /// The new complete snapshot.
    pub snapshot: Snapshot,
    /// The cursor to keep for the next round.
    pub cursor: serde_json::Value,
    /// Whether only changes were read. A provider that was given a previous
    /// round but read everything sets this to `false` and says why in
    /// `full_reason`.
    pub incremental: bool,
    /// Why the provider read everything when it was asked for changes.
    pub full_reason: Option<String>,
    /// HTTP requests the round sent, where the provider counts them: every
    /// attempt, retries and token requests included. The HTTP providers read
    /// `http::HttpClient::requests_sent` (feature `http`) before and after
    /// the round, so requests that other tasks sent through the same
    /// provider instance meanwhile are counted too. The in-memory directory
    /// counts the pages it served instead; `None` where nothing is counted.
    pub requests: Option<u64>,
}

impl ProviderRound {
    /// A full round with no cursor: what a provider without incremental
    /// support returns.
    pub fn full(snapshot: Snapshot) -> Self {
        ProviderRound {
            snapshot,
            cursor: serde_json::Value::Null,
            incremental: false,
            full_reason: None,
            requests: None,
        }
    }
}

/// Counts of what changed between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotChanges {
    /// Users in the new snapshot only.
    pub users_added: usize,
    /// Users in both whose data differs.
    pub users_changed: usize,
    /// Users in the old snapshot only.
    pub users_removed: usize,
    /// Groups in the new snapshot only.
    pub groups_added: usize,
    /// Groups in both whose data differs.
    pub groups_changed: usize,
    /// Groups in the old snapshot only.
    pub groups_removed: usize,
    /// Memberships added.
    pub memberships_added: usize,
    /// Memberships removed.
    pub memberships_removed: usize,
    /// App assignments added.
    pub assignments_added: usize,
    /// App assignments removed.
    pub assignments_removed: usize,
}

impl SnapshotChanges {
    /// Compares two snapshots (both sorted, as every snapshot is).
    pub fn between(old: &Snapshot, new: &Snapshot) -> Self {
        let users = diff_by_key(&old.users, &new.users, |u| u.id.as_str());
        let groups = diff_by_key(&old.groups, &new.groups, |g| g.id.as_str());
        let members = diff_by_key(&old.memberships, &new.memberships, |m| m);
        let assigned = diff_by_key(&old.app_assignments, &new.app_assignments, |a| a);
        SnapshotChanges::from_diffs(users, groups, members, assigned)
    }

    fn from_diffs(users: Diff, groups: Diff, members: Diff, assigned: Diff) -> Self {
        SnapshotChanges {
            users_added: users.added,
            users_changed: users.changed,
            users_removed: users.removed,
            groups_added: groups.added,
            groups_changed: groups.changed,
            groups_removed: groups.removed,
            memberships_added: members.added,
            memberships_removed: members.removed,
            assignments_added: assigned.added,
            assignments_removed: assigned.removed,
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == SnapshotChanges::default()
    }
}

/// What [`SnapshotChanges`] needs of a snapshot that a round consumed: each
/// user's and group's id with a hash of its data, and a hash of each
/// membership and assignment (tens of bytes a user, against the
/// snapshot's kilobyte or so). The hashes are the items' `Hash`, which
/// agrees with their `==`, so an item counts as changed when it differs;
/// a 64-bit hash makes a change that goes uncounted a one in 2^64 chance,
/// and the counts only report (nothing is decided on them).
#[derive(Debug, Clone, Default)]
pub(crate) struct SnapshotDigest {
    users: Vec<(String, u64)>,
    groups: Vec<(String, u64)>,
    memberships: Vec<u64>,
    assignments: Vec<u64>,
}

fn hash_of<T: std::hash::Hash>(item: &T) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    item.hash(&mut h);
    std::hash::Hasher::finish(&h)
}

fn sorted_hashes<T: std::hash::Hash>(items: &[T]) -> Vec<u64> {
    let mut hashes: Vec<u64> = items.iter().map(hash_of).collect();
    hashes.sort_unstable();
    hashes
}

impl SnapshotDigest {
    pub(crate) fn of(s: &Snapshot) -> Self {
        SnapshotDigest {
            users: s.users.iter().map(|u| (u.id.clone(), hash_of(u))).collect(),
            groups: s
                .groups
                .iter()
                .map(|g| (g.id.clone(), hash_of(g)))
                .collect(),
            memberships: sorted_hashes(&s.memberships),
            assignments: sorted_hashes(&s.app_assignments),
        }
    }
}

fn pairs(items: &[(String, u64)]) -> Vec<(&str, u64)> {
    items.iter().map(|(id, h)| (id.as_str(), *h)).collect()
}

impl SnapshotChanges {
    /// Compares a consumed snapshot's digest with the new snapshot: the
    /// counts [`SnapshotChanges::between`] gives for the two snapshots.
    pub(crate) fn since(old: &SnapshotDigest, new: &Snapshot) -> Self {
        let new_users: Vec<(&str, u64)> = new
            .users
            .iter()
            .map(|u| (u.id.as_str(), hash_of(u)))
            .collect();
        let new_groups: Vec<(&str, u64)> = new
            .groups
            .iter()
            .map(|g| (g.id.as_str(), hash_of(g)))
            .collect();
        let users = diff_by_key(&pairs(&old.users), &new_users, |p| p.0);
        let groups = diff_by_key(&pairs(&old.groups), &new_groups, |p| p.0);
        let members = diff_by_key(&old.memberships, &sorted_hashes(&new.memberships), |h| h);
        let assigned = diff_by_key(
            &old.assignments,
            &sorted_hashes(&new.app_assignments),
            |h| h,
        );
        SnapshotChanges::from_diffs(users, groups, members, assigned)
    }
}

#[derive(Default)]
struct Diff {
    added: usize,
    changed: usize,
    removed: usize,
}

/// Walks two lists sorted by `key` side by side.
fn diff_by_key<T: PartialEq, K: Ord + ?Sized>(
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> &K,
) -> Diff {
    let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
    let mut d = Diff::default();
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => return d,
            (Some(_), None) => {
                d.removed += old.by_ref().count();
            }
            (None, Some(_)) => {
                d.added += new.by_ref().count();
            }
            (Some(o), Some(n)) => match key(o).cmp(key(n)) {
                std::cmp::Ordering::Less => {
                    d.removed += 1;
                    old.next();
                }
                std::cmp::Ordering::Greater => {
                    d.added += 1;
                    new.next();
                }
                std::cmp::Ordering::Equal => {
                    d.changed += usize::from(o != n);
                    old.next();
                    new.next();
                }
            },
        }
    }
}

/// What a round did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// Full or incremental, and why full.
    pub round: RoundKind,
    /// HTTP requests the round sent, where the provider counts them (see
    /// [`ProviderRound::requests`]).
    pub requests: Option<u64>,
    /// What changed since the previous snapshot (everything on a first round).
    pub changes: SnapshotChanges,
}

/// The result of [`DirectoryProviderExt::sync`](crate::DirectoryProviderExt::sync).
#[derive(Debug, Clone)]
pub struct SyncRound {
    /// The new complete snapshot.
    pub snapshot: Snapshot,
    /// The state to keep with it for the next round.
    pub state: SyncState,
    /// What the round did.
    pub report: SyncReport,
}

/// Decides whether a round may be incremental: `Err(reason)` when it must be full.
pub(crate) fn must_be_full(
    previous: Option<(&Snapshot, &SyncState)>,
    directory: &str,
    options: &SyncOptions,
    now: DateTime<Utc>,
) -> std::result::Result<(), FullReason> {
    let Some((snapshot, state)) = previous else {
        return Err(FullReason::NoState);
    };
    for named in [state.directory.as_str(), snapshot.provider.as_str()] {
        if named != directory {
            return Err(FullReason::OtherDirectory {
                state: named.to_string(),
                provider: directory.to_string(),
            });
        }
    }
    if state.rounds_since_full >= options.full_every {
        return Err(FullReason::Scheduled {
            rounds: state.rounds_since_full,
        });
    }
    let too_old = now.signed_duration_since(state.saved_at) > options.max_state_age;
    if too_old || state.saved_at > now + Duration::minutes(5) {
        // A state from the future means a clock jumped: trust nothing.
        return Err(FullReason::StateTooOld {
            saved_at: state.saved_at,
        });
    }
    Ok(())
}

/// The previous snapshot as [`finish_round`] counts changes against it:
/// the snapshot itself, or the digest of one the provider consumed.
pub(crate) enum Before<'a> {
    /// The previous snapshot, lent to the provider.
    Snapshot(&'a Snapshot),
    /// The digest of the previous snapshot, handed over to the provider.
    Digest(&'a SnapshotDigest),
}

/// Builds the round's result from what the provider returned.
pub(crate) fn finish_round(
    previous: Option<(&Snapshot, &SyncState)>,
    forced: Option<FullReason>,
    round: ProviderRound,
    directory: &str,
) -> SyncRound {
    // Changes are counted against the previous snapshot of this directory;
    // on a first round (or after a mix-up) everything counts as added.
    let before = previous
        .map(|(s, _)| s)
        .filter(|s| s.provider == directory)
        .map(Before::Snapshot);
    finish_round_from(previous.map(|(_, st)| st), before, forced, round, directory)
}

/// [`finish_round`] for a round given the previous state and, when it was
/// of this directory, what the previous snapshot was (`before`).
pub(crate) fn finish_round_from(
    previous_state: Option<&SyncState>,
    before: Option<Before<'_>>,
    forced: Option<FullReason>,
    round: ProviderRound,
    directory: &str,
) -> SyncRound {
    let state = SyncState::after(previous_state, &round, directory);
    let kind = match (forced, round.incremental, round.full_reason) {
        (Some(reason), _, _) => RoundKind::Full { reason },
        (None, true, _) => RoundKind::Incremental,
        (None, false, Some(detail)) => RoundKind::Full {
            reason: FullReason::Provider { detail },
        },
        (None, false, None) => RoundKind::Full {
            reason: FullReason::Unsupported,
        },
    };
    let changes = match before {
        Some(Before::Snapshot(old)) => SnapshotChanges::between(old, &round.snapshot),
        Some(Before::Digest(old)) => SnapshotChanges::since(old, &round.snapshot),
        None => {
            let empty = Snapshot::from_parts(directory, vec![], vec![], vec![], vec![]);
            SnapshotChanges::between(&empty, &round.snapshot)
        }
    };
    SyncRound {
        report: SyncReport {
            round: kind,
            requests: round.requests,
            changes,
        },
        snapshot: round.snapshot,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppAssignment, DirectoryGroup, DirectoryUser, Membership};

    fn snapshot(users: &[(&str, &str)], groups: &[&str], members: &[(&str, &str)]) -> Snapshot {
        Snapshot::from_parts(
            "test",
            users
                .iter()
                .map(|(id, name)| DirectoryUser::new(*id, *name))
                .collect(),
            groups
                .iter()
                .map(|id| DirectoryGroup::new(*id, format!("Group {id}")))
                .collect(),
            members
                .iter()
                .map(|(g, u)| Membership::direct(*g, *u))
                .collect(),
            users
                .iter()
                .step_by(2)
                .map(|(id, _)| AppAssignment::direct(*id))
                .collect(),
        )
    }

    /// Counting against a consumed snapshot's digest gives what comparing
    /// the two snapshots gives, for every kind of change.
    #[test]
    fn changes_counted_from_a_digest_are_those_between_the_snapshots() {
        let old = snapshot(
            &[("u1", "a"), ("u2", "b"), ("u3", "c"), ("u5", "e")],
            &["g1", "g2"],
            &[("g1", "u1"), ("g1", "u2"), ("g2", "u3")],
        );
        let new = snapshot(
            &[("u0", "z"), ("u2", "b"), ("u3", "renamed"), ("u4", "d")],
            &["g2", "g3"],
            &[("g2", "u3"), ("g2", "u4"), ("g3", "u2")],
        );
        let exact = SnapshotChanges::between(&old, &new);
        assert_eq!(
            SnapshotChanges::since(&SnapshotDigest::of(&old), &new),
            exact
        );
        assert_eq!(
            exact,
            SnapshotChanges {
                users_added: 2,
                users_changed: 1,
                users_removed: 2,
                groups_added: 1,
                groups_changed: 0,
                groups_removed: 1,
                memberships_added: 2,
                memberships_removed: 2,
                assignments_added: 1,
                assignments_removed: 1,
            }
        );
        // A change in a provider's own attributes alone counts too.
        let mut tagged = new.clone();
        if let Some(u) = tagged.users.first_mut() {
            u.custom_attributes
                .extend([("costCode", serde_json::json!(7))]);
        }
        let from_digest = SnapshotChanges::since(&SnapshotDigest::of(&new), &tagged);
        assert_eq!(from_digest.users_changed, 1);
        for (a, b) in [(&old, &old), (&new, &old), (&new, &new), (&new, &tagged)] {
            let from_digest = SnapshotChanges::since(&SnapshotDigest::of(a), b);
            assert_eq!(from_digest, SnapshotChanges::between(a, b));
        }
    }
}
