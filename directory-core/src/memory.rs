//! `InMemoryDirectory`: a directory held in memory, for tests, doc tests and
//! examples, with paging and injectable failures.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Result};
use crate::incremental::{PreviousRound, ProviderRound};
use crate::model::{AppAssignment, DirectoryGroup, DirectoryUser, Membership};
use crate::pagination::{paginate, Page};
use crate::provider::{CheckReport, DirectoryProvider, Pages};
use crate::snapshot::{CollectOptions, ResourceKind, Snapshot};

/// The contents of an [`InMemoryDirectory`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectoryData {
    /// Users, in list order.
    pub users: Vec<DirectoryUser>,
    /// Groups, in list order.
    pub groups: Vec<DirectoryGroup>,
    /// Memberships.
    pub memberships: Vec<Membership>,
    /// App assignments.
    pub app_assignments: Vec<AppAssignment>,
}

impl From<Snapshot> for DirectoryData {
    fn from(s: Snapshot) -> Self {
        Self {
            users: s.users,
            groups: s.groups,
            memberships: s.memberships,
            app_assignments: s.app_assignments,
        }
    }
}

/// A failure the in-memory directory will return instead of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFailure {
    /// Which stream fails.
    pub kind: ResourceKind,
    /// Which page fails, counting from 1 (for memberships: within each group).
    pub page: usize,
    /// The kind of error returned.
    pub error: ErrorKind,
    /// For memberships: only this group's stream fails (all groups if `None`).
    pub group_id: Option<String>,
}

struct State {
    data: DirectoryData,
    failures: Vec<InjectedFailure>,
    requests: u64,
    /// Bumped by every [`InMemoryDirectory::update`]: the cursor of its sync rounds.
    revision: u64,
}

struct Inner {
    name: String,
    /// Tells this instance from any other built under the same name (in
    /// this process or an earlier one): revisions count per instance.
    instance: String,
    page_size: usize,
    state: Mutex<State>,
}

/// A [`DirectoryProvider`] over data in memory.
///
/// Pages are cut at `page_size` items; every page fetch counts as a request.
/// Failures can be injected on any page of any stream, and the data can be
/// changed between syncs with [`InMemoryDirectory::update`].
///
/// ```
/// use directory_core::{DirectoryProviderExt, DirectoryUser, InMemoryDirectory};
/// # futures::executor::block_on(async {
/// let dir = InMemoryDirectory::builder("acme")
///     .page_size(2)
///     .user(DirectoryUser::new("u1", "ada@acme.test"))
///     .user(DirectoryUser::new("u2", "bob@acme.test"))
///     .user(DirectoryUser::new("u3", "cy@acme.test"))
///     .build();
/// let snapshot = dir.snapshot().await.unwrap();
/// assert_eq!(snapshot.users.len(), 3);
/// assert_eq!(dir.requests(), 2 + 1 + 1); // two user pages, groups, assignments
/// # });
/// ```
#[derive(Clone)]
pub struct InMemoryDirectory {
    inner: Arc<Inner>,
}

/// Builds an [`InMemoryDirectory`].
#[derive(Debug)]
pub struct InMemoryDirectoryBuilder {
    name: String,
    page_size: usize,
    data: DirectoryData,
    failures: Vec<InjectedFailure>,
}

impl InMemoryDirectoryBuilder {
    /// Items per page (at least 1; default 100).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: DirectoryUser) -> Self {
        self.data.users.push(user);
        self
    }

    /// Adds a group.
    pub fn group(mut self, group: DirectoryGroup) -> Self {
        self.data.groups.push(group);
        self
    }

    /// Adds a membership.
    pub fn membership(mut self, m: Membership) -> Self {
        self.data.memberships.push(m);
        self
    }

    /// Adds an app assignment.
    pub fn app_assignment(mut self, a: AppAssignment) -> Self {
        self.data.app_assignments.push(a);
        self
    }

    /// Replaces all data.
    pub fn data(mut self, data: impl Into<DirectoryData>) -> Self {
        self.data = data.into();
        self
    }

    /// Injects a failure.
    pub fn fail(mut self, failure: InjectedFailure) -> Self {
        self.failures.push(failure);
        self
    }

    /// Builds the directory.
    pub fn build(self) -> InMemoryDirectory {
        InMemoryDirectory {
            inner: Arc::new(Inner {
                name: self.name,
                instance: instance_id(),
                page_size: self.page_size,
                state: Mutex::new(State {
                    data: self.data,
                    failures: self.failures,
                    requests: 0,
                    revision: 0,
                }),
            }),
        }
    }
}

impl InMemoryDirectory {
    /// Starts building a directory with the given name (shown as `memory(name)`).
    pub fn builder(name: impl Into<String>) -> InMemoryDirectoryBuilder {
        InMemoryDirectoryBuilder {
            name: name.into(),
            page_size: 100,
            data: DirectoryData::default(),
            failures: Vec::new(),
        }
    }

    /// Changes the data, e.g. between two syncs.
    pub fn update(&self, f: impl FnOnce(&mut DirectoryData)) {
        let mut state = self.lock();
        f(&mut state.data);
        state.revision = state.revision.wrapping_add(1);
    }

    /// Injects a failure from now on.
    pub fn inject(&self, failure: InjectedFailure) {
        self.lock().failures.push(failure);
    }

    /// Removes all injected failures.
    pub fn clear_failures(&self) {
        self.lock().failures.clear();
    }

    /// How many pages were served so far.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// A copy of the current data.
    pub fn data(&self) -> DirectoryData {
        self.lock().data.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the data half-written
        // (every update is one closure), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pages over whatever `select` picks from the data at fetch time.
    fn pages<T, S>(&self, kind: ResourceKind, group: Option<String>, select: S) -> Pages<T>
    where
        T: Clone + PartialEq + Send + 'static,
        S: Fn(&DirectoryData) -> Result<Vec<T>> + Send + Sync + 'static,
    {
        let this = self.clone();
        let select = Arc::new(select);
        paginate(0usize, move |offset| {
            let this = this.clone();
            let select = select.clone();
            let group = group.clone();
            async move { this.page(kind, group.as_deref(), offset, &*select) }
        })
    }

    fn page<T: Clone>(
        &self,
        kind: ResourceKind,
        group: Option<&str>,
        offset: usize,
        select: &dyn Fn(&DirectoryData) -> Result<Vec<T>>,
    ) -> Result<Page<T, usize>> {
        let size = self.inner.page_size;
        let page_no = offset / size + 1;
        let mut st = self.lock();
        st.requests += 1;
        let failure = st.failures.iter().find(|f| {
            f.kind == kind
                && f.page == page_no
                && (f.group_id.is_none() || f.group_id.as_deref() == group)
        });
        if let Some(f) = failure {
            return Err(Error::new(
                f.error,
                format!("injected failure on page {page_no} of {kind}"),
            )
            .with_provider(self));
        }
        let all = select(&st.data).map_err(|e| e.with_provider(self))?;
        let end = (offset + size).min(all.len());
        let items = all.get(offset..end).map(<[T]>::to_vec).unwrap_or_default();
        let next = (end < all.len()).then_some(end);
        Ok(Page::new(items, next))
    }
}

impl InMemoryDirectory {
    /// Why a round given a previous one read everything.
    fn why_full(&self, cursor: &serde_json::Value) -> String {
        if cursor.get("instance").and_then(|v| v.as_str()) == Some(self.inner.instance.as_str()) {
            "the directory changed and memory keeps no change log".to_string()
        } else {
            "the state was kept from another instance of this directory".to_string()
        }
    }
}

/// A process id, the time and a counter: no two instances share one.
fn instance_id() -> String {
    static BUILT: AtomicU64 = AtomicU64::new(0);
    let n = BUILT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}-{n}", std::process::id())
}

impl fmt::Display for InMemoryDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "memory({})", self.inner.name)
    }
}

impl fmt::Debug for InMemoryDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDirectory")
            .field("name", &self.inner.name)
            .field("page_size", &self.inner.page_size)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl DirectoryProvider for InMemoryDirectory {
    fn users(&self) -> Pages<DirectoryUser> {
        self.pages(ResourceKind::Users, None, |d| Ok(d.users.clone()))
    }

    fn groups(&self) -> Pages<DirectoryGroup> {
        self.pages(ResourceKind::Groups, None, |d| Ok(d.groups.clone()))
    }

    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        let id = group_id.to_string();
        self.pages(ResourceKind::Memberships, Some(id.clone()), move |d| {
            if !d.groups.iter().any(|g| g.id == id) {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("no group with id {id}"),
                ));
            }
            Ok(d.memberships
                .iter()
                .filter(|m| m.group_id == id)
                .cloned()
                .collect())
        })
    }

    fn app_assignments(&self) -> Pages<AppAssignment> {
        self.pages(ResourceKind::AppAssignments, None, |d| {
            Ok(d.app_assignments.clone())
        })
    }

    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::default();
        let failures = self.lock().failures.clone();
        for kind in [
            ResourceKind::Users,
            ResourceKind::Groups,
            ResourceKind::Memberships,
            ResourceKind::AppAssignments,
        ] {
            let result = match failures.iter().find(|f| f.kind == kind && f.page == 1) {
                Some(f) => Err(
                    Error::new(f.error, format!("injected failure listing {kind}"))
                        .with_provider(self),
                ),
                None => Ok(()),
            };
            report.push(format!("list {kind}"), result);
        }
        report
    }

    /// Incremental by revision: a round after no [`InMemoryDirectory::update`]
    /// of this same instance reuses the previous snapshot without reading a
    /// page; any update, or a state kept from another instance (one built
    /// anew under the same name, as after a host restart), makes the round
    /// full (there is no change log to replay).
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        let revision = self.lock().revision;
        let cursor = serde_json::json!({ "instance": self.inner.instance, "revision": revision });
        let unchanged = previous.filter(|p| *p.cursor == cursor);
        if let Some(p) = unchanged {
            let mut snapshot = p.snapshot.clone();
            snapshot.collected_at = chrono::Utc::now();
            return Ok(ProviderRound {
                snapshot,
                cursor,
                incremental: true,
                full_reason: None,
                requests: Some(0),
            });
        }
        let snapshot = Snapshot::collect(self, options).await?;
        Ok(ProviderRound {
            full_reason: previous.map(|p| self.why_full(p.cursor)),
            cursor,
            ..ProviderRound::full(snapshot)
        })
    }
}
