//! Okta's incremental rounds, behind
//! [`DirectoryProviderExt::sync`](directory_core::DirectoryProviderExt::sync).
//!
//! A round after a full one reads users with `filter=lastUpdated ge <since>`
//! (deprovisioned users included), groups whose profile or membership changed
//! (`lastUpdated` / `lastMembershipUpdated`), the members of just those groups,
//! and the app's users in full (Okta has no change filter for them). `since` is
//! the server's `Date` when the previous round began, less an overlap window,
//! so a change made while a round was reading is read again, never missed.
//!
//! Deletions leave no trace in these filters. With the System Log (see
//! `crate::systemlog`: `system_log(true)` and `okta.logs.read` granted) a
//! round reads the deletions over the same window and drops the deleted
//! users and groups with their memberships; a round that cannot trust the
//! log (unreadable, the previous round past the 90-day retention, Okta's
//! clock behind the previous round's start, a previous round without the
//! log) is full and says why. Without it, a deleted user is already gone or
//! deprovisioned (Okta deletes only deactivated users), and a deleted group
//! keeps its last members until the next full round, which the driver runs
//! every `SyncOptions::full_every` rounds and whenever the state is older
//! than `SyncOptions::max_state_age`. A missed deletion delays a
//! deactivation; it never causes one.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use directory_core::{
    CollectOptions, DirectoryGroup, DirectoryProvider, DirectoryUser, Error, Membership,
    PreviousSnapshot, ProviderRound, Result, Snapshot, UserStatus,
};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::provider::{okta_time, OktaDirectory};
use crate::systemlog::{retention, Deletions};

/// How far before the previous round's start a round reads again: Okta's
/// timestamps come from more than one server, and its lists are eventually
/// consistent for a moment after a write.
pub(crate) const OVERLAP: Duration = Duration::from_secs(120);

/// What an Okta round keeps in the sync state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    /// Okta's clock when the round began; `None` when Okta sent no `Date`.
    began: Option<DateTime<Utc>>,
    /// Whether the snapshot holds deprovisioned users.
    deprovisioned: bool,
    /// The SSO app whose users the snapshot holds.
    app_id: Option<String>,
    /// Whether the round read deletions from the System Log.
    #[serde(default)]
    system_log: bool,
}

impl OktaDirectory {
    /// One round: incremental from a usable cursor, full otherwise.
    pub(crate) async fn round(
        &self,
        previous: Option<(PreviousSnapshot<'_>, &serde_json::Value)>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        let _one_at_a_time = self.rounds.lock().await;
        self.client.clock().begin();
        let before = self.client.api.http().requests_sent();
        let log = self.log_mode().await?;
        let (snapshot, incremental, full_reason) = self.read(previous, options, log).await?;
        let cursor = Cursor {
            began: self.client.clock().earliest().map(server_start),
            deprovisioned: self.include_deprovisioned,
            app_id: self.app_id.clone(),
            system_log: log,
        };
        let cursor = serde_json::to_value(cursor)
            .map_err(|e| Error::invalid_response(format!("the Okta cursor cannot be kept: {e}")))?;
        Ok(ProviderRound {
            snapshot,
            cursor,
            incremental,
            full_reason,
            requests: Some(self.client.api.http().requests_since(before)),
        })
    }

    /// The snapshot, whether it was read incrementally, and why not.
    async fn read(
        &self,
        previous: Option<(PreviousSnapshot<'_>, &serde_json::Value)>,
        options: &CollectOptions,
        log: bool,
    ) -> Result<(Snapshot, bool, Option<String>)> {
        let reason = match previous {
            None => None,
            Some((prev, cursor)) => match self.usable(cursor, log) {
                Ok(began) => match self.changes_since(prev, began, log).await? {
                    Ok(snapshot) => return Ok((snapshot, true, None)),
                    Err(reason) => Some(reason),
                },
                Err(reason) => Some(reason),
            },
        };
        Ok((Snapshot::collect(self, options).await?, false, reason))
    }

    /// When the previous round began, by its cursor, or why the round
    /// must be full.
    fn usable(
        &self,
        cursor: &serde_json::Value,
        log: bool,
    ) -> std::result::Result<DateTime<Utc>, String> {
        let cursor = Cursor::deserialize(cursor)
            .map_err(|_| "the sync state holds no Okta cursor this release can read".to_string())?;
        if cursor.deprovisioned != self.include_deprovisioned || cursor.app_id != self.app_id {
            return Err("the provider's settings changed since the last round".into());
        }
        if log && !cursor.system_log {
            return Err(
                "the last round did not read the System Log: deletions before it \
                        may be missing"
                    .into(),
            );
        }
        cursor
            .began
            .ok_or_else(|| "Okta sent no Date header in the last round".to_string())
    }

    /// The previous snapshot with what changed since the previous round
    /// (less the overlap) applied, or why the changes cannot be trusted.
    async fn changes_since(
        &self,
        prev: PreviousSnapshot<'_>,
        began: DateTime<Utc>,
        log: bool,
    ) -> Result<std::result::Result<Snapshot, String>> {
        let since = began - overlap();
        let deleted = if log {
            match self.trusted_deletions(began, since).await {
                Ok(deleted) => Some(deleted),
                Err(reason) => return Ok(Err(reason)),
            }
        } else {
            None
        };
        let t = okta_time(since);
        // The three listings do not depend on one another: read side by
        // side, the round takes as long as its longest chain of pages (the
        // app's users, usually), not their sum.
        let changed_groups = async {
            let groups: Vec<DirectoryGroup> = self.groups_changed("ge", &t).try_concat().await?;
            let members = self.members_of(&groups).await?;
            Ok::<_, Error>((groups, members))
        };
        let (users, (groups, members), assigned) = futures::try_join!(
            self.users_changed("ge", &t).try_concat(),
            changed_groups,
            self.app_assignments().try_concat(),
        )?;
        let mut next = Merge::from(prev);
        next.users(users, self.include_deprovisioned);
        next.groups(groups, members);
        if let Some(deleted) = deleted {
            next.delete(&deleted);
        }
        Ok(Ok(next.finish(self.to_string(), assigned)))
    }

    /// The deletions in the System Log since `since`, when the log covers
    /// the whole window: it can be read, Okta's clock did not go back past
    /// the previous round's start, and that start is within the retention.
    async fn trusted_deletions(
        &self,
        began: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> std::result::Result<Deletions, String> {
        let deleted = self
            .deletions(since)
            .await
            .map_err(|e| format!("the System Log cannot be read: {e}"))?;
        let now = self
            .client
            .clock()
            .earliest()
            .map(DateTime::<Utc>::from)
            .ok_or_else(|| "Okta sent no Date header with the System Log".to_string())?;
        if now < began {
            return Err(format!(
                "Okta's clock ({now}) is behind the last round's start ({began}): it went \
                 backwards, so the System Log window cannot be trusted"
            ));
        }
        if now - began > retention() {
            return Err(format!(
                "the last round began at {began}, past the System Log's 90-day retention: \
                 deletions since then may be gone from the log"
            ));
        }
        Ok(deleted)
    }

    /// The members of the changed groups, a few groups at a time.
    async fn members_of(&self, groups: &[DirectoryGroup]) -> Result<Vec<Membership>> {
        let reads: Vec<_> = groups
            .iter()
            .map(|g| self.group_members(&g.id).try_concat())
            .collect();
        let lists: Vec<Vec<Membership>> = stream::iter(reads)
            .buffer_unordered(self.member_concurrency().max(1))
            .try_collect()
            .await?;
        Ok(lists.into_iter().flatten().collect())
    }
}

fn overlap() -> chrono::Duration {
    chrono::Duration::from_std(OVERLAP).unwrap_or(chrono::Duration::minutes(2))
}

/// A `Date` has whole seconds: the round began up to a second before it.
fn server_start(at: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(at) - chrono::Duration::seconds(1)
}

/// The previous snapshot's parts, changed in place: vectors sorted by id
/// as the snapshot keeps them, so a handed-over snapshot's users and groups
/// are filtered where they lie, with no second copy or map of them.
struct Merge {
    users: Vec<DirectoryUser>,
    groups: Vec<DirectoryGroup>,
    memberships: Vec<Membership>,
}

impl From<PreviousSnapshot<'_>> for Merge {
    fn from(prev: PreviousSnapshot<'_>) -> Self {
        let (users, groups, memberships) = prev.into_parts();
        Merge {
            users: users.into_owned(),
            groups: groups.into_owned(),
            memberships: memberships.into_owned(),
        }
    }
}

/// Replaces the items of `items` whose id is in `latest` by its entry
/// (`None`: removed), and adds the entries for ids not there yet. The
/// filter reuses the vector's buffer.
fn replace_by_id<T>(
    items: &mut Vec<T>,
    mut latest: HashMap<String, Option<T>>,
    id: impl Fn(&T) -> &String,
) {
    let kept: Vec<T> = std::mem::take(items)
        .into_iter()
        .filter(|t| !latest.contains_key(id(t)))
        .collect();
    *items = kept;
    items.reserve_exact(latest.len());
    items.extend(latest.drain().filter_map(|(_, t)| t));
}

impl Merge {
    /// Changed users replace their old selves (the last one read of an
    /// id); deprovisioned ones leave a snapshot that does not keep them.
    fn users(&mut self, changed: Vec<DirectoryUser>, keep_deprovisioned: bool) {
        let mut latest = HashMap::with_capacity(changed.len());
        for user in changed {
            let kept = user.status != UserStatus::Deprovisioned || keep_deprovisioned;
            latest.insert(user.id.clone(), kept.then_some(user));
        }
        replace_by_id(&mut self.users, latest, |u| &u.id);
    }

    /// Changed groups replace their old selves, and their members replace
    /// their old members.
    fn groups(&mut self, changed: Vec<DirectoryGroup>, members: Vec<Membership>) {
        let reread: HashSet<&str> = changed.iter().map(|g| g.id.as_str()).collect();
        self.memberships
            .retain(|m| !reread.contains(m.group_id.as_str()));
        self.memberships.extend(members);
        let latest = changed.into_iter().map(|g| (g.id.clone(), Some(g)));
        replace_by_id(&mut self.groups, latest.collect(), |g| &g.id);
    }

    /// Deleted users and groups leave, with their memberships.
    fn delete(&mut self, deleted: &Deletions) {
        self.users.retain(|u| !deleted.users.contains(&u.id));
        self.groups.retain(|g| !deleted.groups.contains(&g.id));
        self.memberships.retain(|m| {
            !deleted.users.contains(&m.user_id) && !deleted.groups.contains(&m.group_id)
        });
    }

    fn finish(self, provider: String, assigned: Vec<directory_core::AppAssignment>) -> Snapshot {
        Snapshot::from_parts(
            provider,
            self.users,
            self.groups,
            self.memberships,
            assigned,
        )
    }
}
