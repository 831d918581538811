//! The `DirectoryProvider` trait and its extension.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::incremental::{
    finish_round, finish_round_from, must_be_full, Before, OwnedPreviousRound, PreviousRound,
    ProviderRound, SnapshotDigest, SyncOptions, SyncRound, SyncState,
};
use crate::model::{AppAssignment, AppGrant, DirectoryGroup, DirectoryUser, Membership};
use crate::snapshot::{CollectOptions, Snapshot};

/// A lazy stream of pages. Each item is one page as the provider returned it;
/// an `Err` ends the stream. Memory is bounded by one page.
pub type Pages<T> = BoxStream<'static, Result<Vec<T>>>;

/// A source of directory data: Okta, Microsoft Graph, a SCIM store, memory.
///
/// Only what a provider must implement is here. Streams are `'static`: a
/// provider keeps its state behind an `Arc` and each stream holds a clone, so a
/// stream can be moved into a task. `Display` names the provider for logs
/// (`okta(acme.okta.com)`) and never shows a secret.
#[async_trait]
pub trait DirectoryProvider: fmt::Display + Send + Sync + 'static {
    /// All users, page by page, in the provider's stable order.
    fn users(&self) -> Pages<DirectoryUser>;

    /// All groups, page by page.
    fn groups(&self) -> Pages<DirectoryGroup>;

    /// The user members of one group. Where the provider nests groups, members
    /// of nested groups are included as [`crate::MembershipKind::Transitive`];
    /// non-user members (devices, service principals) are skipped.
    fn group_members(&self, group_id: &str) -> Pages<Membership>;

    /// The users assigned to the customer's SSO app, directly or through a
    /// group. A provider configured without an app yields an empty stream.
    fn app_assignments(&self) -> Pages<AppAssignment>;

    /// Runs every probe a sync will need and reports all problems at once.
    async fn check(&self) -> CheckReport;

    /// Optionally, every listed group's user memberships in one stream, for
    /// [`Snapshot::collect`]. The default, `None`, has collection run
    /// [`DirectoryProvider::group_members`] per group. A provider whose
    /// per-group walks would read the same pages more than once (nested
    /// groups: a child group is walked again under every parent) returns a
    /// stream that reads each group once and resolves nesting locally.
    fn memberships(&self, group_ids: Vec<String>) -> Option<Pages<Membership>> {
        let _ = group_ids;
        None
    }

    /// Optionally, the SSO app's assignments with assigned groups named
    /// rather than expanded, for [`Snapshot::collect`]. Collection expands
    /// each assigned group from the direct memberships it reads anyway, so a
    /// group's members are read once, not once for the memberships and again
    /// for the assignments. Return `Some` only where an assigned group gives
    /// app access to its direct user members and no one else (Entra: app
    /// assignment is not inherited through nested groups). The default,
    /// `None`, has collection read [`DirectoryProvider::app_assignments`].
    fn app_grants(&self) -> Option<Pages<AppGrant>> {
        None
    }

    /// How many group-member streams may run at once without crossing the
    /// provider's rate limits.
    fn member_concurrency(&self) -> usize {
        4
    }

    /// One sync round for [`DirectoryProviderExt::sync`]: with a previous
    /// round, read only what changed since and return the new complete
    /// snapshot; without one, read everything and return the cursor the next
    /// round starts from. A provider that cannot prove nothing was missed
    /// reads everything and says why ([`ProviderRound::full_reason`]).
    ///
    /// The default collects in full: a provider without incremental support
    /// is still a [`DirectoryProviderExt::sync`] source.
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        let _ = previous;
        Snapshot::collect(self, options)
            .await
            .map(ProviderRound::full)
    }

    /// [`DirectoryProvider::sync_round`] with the previous round handed
    /// over instead of lent, for [`DirectoryProviderExt::sync_owned`]: a
    /// provider that merges changes into the previous snapshot can move
    /// what did not change instead of copying it, so the round holds one
    /// snapshot instead of two (for a directory of 100,000 users, about
    /// the size of its JSON saved). The default lends it to `sync_round`;
    /// the Okta and Entra providers override it.
    async fn sync_round_owned(
        &self,
        previous: Option<OwnedPreviousRound>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        self.sync_round(previous.as_ref().map(OwnedPreviousRound::lend), options)
            .await
    }
}

#[async_trait]
impl<P: DirectoryProvider + ?Sized> DirectoryProvider for Arc<P> {
    fn users(&self) -> Pages<DirectoryUser> {
        (**self).users()
    }
    fn groups(&self) -> Pages<DirectoryGroup> {
        (**self).groups()
    }
    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        (**self).group_members(group_id)
    }
    fn app_assignments(&self) -> Pages<AppAssignment> {
        (**self).app_assignments()
    }
    async fn check(&self) -> CheckReport {
        (**self).check().await
    }
    fn memberships(&self, group_ids: Vec<String>) -> Option<Pages<Membership>> {
        (**self).memberships(group_ids)
    }
    fn app_grants(&self) -> Option<Pages<AppGrant>> {
        (**self).app_grants()
    }
    fn member_concurrency(&self) -> usize {
        (**self).member_concurrency()
    }
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        (**self).sync_round(previous, options).await
    }
    async fn sync_round_owned(
        &self,
        previous: Option<OwnedPreviousRound>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        (**self).sync_round_owned(previous, options).await
    }
}

/// Conveniences on top of [`DirectoryProvider`], for every provider.
#[async_trait]
pub trait DirectoryProviderExt: DirectoryProvider {
    /// Collects a complete [`Snapshot`] with default options.
    async fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::collect(self, &CollectOptions::default()).await
    }

    /// All users, flattened from their pages.
    async fn all_users(&self) -> Result<Vec<DirectoryUser>> {
        self.users().try_concat().await
    }

    /// All groups, flattened from their pages.
    async fn all_groups(&self) -> Result<Vec<DirectoryGroup>> {
        self.groups().try_concat().await
    }

    /// Counts users without keeping them.
    async fn count_users(&self) -> Result<usize> {
        self.users()
            .try_fold(0usize, |n, page| async move { Ok(n + page.len()) })
            .await
    }

    /// The next complete snapshot, as cheaply as the provider allows: give
    /// the last snapshot and [`SyncState`] (none on a first round) and keep
    /// the returned pair for next time. The round is full when the state
    /// cannot prove nothing was missed (see [`SyncOptions`] for when);
    /// [`SyncRound::report`] says which and why. An error leaves the previous
    /// pair as it was: keep it and try again.
    async fn sync(
        &self,
        previous: Option<(&Snapshot, &SyncState)>,
        options: &SyncOptions,
    ) -> Result<SyncRound> {
        let directory = self.to_string();
        let forced = must_be_full(previous, &directory, options, chrono::Utc::now()).err();
        let handed = match (&forced, previous) {
            (None, Some((snapshot, state))) => Some(PreviousRound {
                snapshot,
                cursor: state.cursor(),
            }),
            _ => None,
        };
        let round = self.sync_round(handed, &options.collect).await?;
        Ok(finish_round(previous, forced, round, &directory))
    }

    /// [`DirectoryProviderExt::sync`] with the previous pair handed over:
    /// the same round and report, but a provider that merges changes into
    /// the previous snapshot moves it into the new one instead of copying
    /// it ([`DirectoryProvider::sync_round_owned`]), and the changes are
    /// counted against a digest of it. What a runner that keeps the pair
    /// elsewhere (a database) wants. An error consumes the pair: read it
    /// again from where it is kept.
    async fn sync_owned(
        &self,
        previous: Option<(Snapshot, SyncState)>,
        options: &SyncOptions,
    ) -> Result<SyncRound> {
        let directory = self.to_string();
        let lent = previous.as_ref().map(|(s, st)| (s, st));
        let forced = must_be_full(lent, &directory, options, chrono::Utc::now()).err();
        let (snapshot, state) = match previous {
            Some((snapshot, state)) => (Some(snapshot), Some(state)),
            None => (None, None),
        };
        let digest = snapshot
            .as_ref()
            .filter(|s| s.provider == directory)
            .map(SnapshotDigest::of);
        let handed = match (&forced, snapshot, &state) {
            (None, Some(snapshot), Some(state)) => Some(OwnedPreviousRound {
                snapshot,
                cursor: state.cursor().clone(),
            }),
            // A round that must be full reads everything: the previous
            // snapshot is of no use to it, and goes now.
            _ => None,
        };
        let round = self.sync_round_owned(handed, &options.collect).await?;
        let before = digest.as_ref().map(Before::Digest);
        Ok(finish_round_from(
            state.as_ref(),
            before,
            forced,
            round,
            &directory,
        ))
    }

    /// Users one at a time instead of page by page.
    fn user_items(&self) -> BoxStream<'static, Result<DirectoryUser>> {
        flatten_pages(self.users())
    }
}

impl<P: DirectoryProvider + ?Sized> DirectoryProviderExt for P {}

/// Turns a stream of pages into a stream of items.
pub fn flatten_pages<T: Send + 'static>(pages: Pages<T>) -> BoxStream<'static, Result<T>> {
    pages
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// The outcome of one probe run by [`DirectoryProvider::check`].
#[derive(Debug)]
pub struct Probe {
    /// What was probed, e.g. `"list users (okta.users.read)"`.
    pub name: String,
    /// `Ok` or the problem with its remedy.
    pub result: Result<(), Error>,
}

/// Everything `check()` found, so an admin can fix all problems in one go.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Every probe in the order it ran.
    pub probes: Vec<Probe>,
}

impl CheckReport {
    /// Records a probe result.
    pub fn push(&mut self, name: impl Into<String>, result: Result<(), Error>) {
        self.probes.push(Probe {
            name: name.into(),
            result,
        });
    }

    /// Whether every probe passed.
    pub fn is_ok(&self) -> bool {
        self.probes.iter().all(|p| p.result.is_ok())
    }

    /// The failed probes' errors.
    pub fn problems(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.probes
            .iter()
            .filter_map(|p| p.result.as_ref().err().map(|e| (p.name.as_str(), e)))
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.probes {
            match &p.result {
                Ok(()) => writeln!(f, "ok      {}", p.name)?,
                Err(e) => writeln!(f, "PROBLEM {}: {e}", p.name)?,
            }
        }
        Ok(())
    }
}
