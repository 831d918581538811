//! A tenant's SCIM-fed directory as a [`DirectoryProvider`].
//!
//! Users and groups are read page by page from the store in id order, so a
//! SCIM-fed directory goes through [`directory_core::Snapshot::collect`] and
//! reconcile exactly like a pulled one. Every pushed user was pushed because
//! it is assigned to the app, so each active user is an
//! [`AppAssignment::direct`]; deactivated users (Okta's unassign) are not.
//! Groups nested in a group (a member of type Group) contribute their users
//! as transitive members.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use directory_core::{
    paginate, AppAssignment, CheckReport, CollectOptions, DirectoryGroup, DirectoryProvider,
    DirectoryUser, Error, ErrorKind, Membership, MembershipKind, NestingWalk, Page, Pages,
    PreviousRound, ProviderRound, UserStatus,
};

use crate::model::{group_to_model, user_to_model};
use crate::resources::{group_members, user_members};
use crate::schema::ResourceType;
use crate::store::{Store, StoredResource};

/// Default number of users or groups per page.
pub const DEFAULT_PAGE_SIZE: usize = 200;

/// One tenant's directory, read from the store.
#[derive(Clone)]
pub struct ScimDirectory {
    pub(crate) store: Arc<dyn Store>,
    tenant: String,
    page_size: usize,
}

impl fmt::Debug for ScimDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimDirectory")
            .field("tenant", &self.tenant)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ScimDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scim({})", self.tenant)
    }
}

impl ScimDirectory {
    /// The directory of `tenant` in `store`.
    pub fn new(store: Arc<dyn Store>, tenant: impl Into<String>) -> Self {
        Self {
            store,
            tenant: tenant.into(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Sets the page size (at least 1).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    fn pages<T, F>(&self, rt: ResourceType, map: F) -> Pages<T>
    where
        T: Clone + PartialEq + Send + 'static,
        F: Fn(&StoredResource) -> Option<T> + Send + Sync + 'static,
    {
        let (store, tenant, size) = (self.store.clone(), self.tenant.clone(), self.page_size);
        let map = Arc::new(map);
        paginate(String::new(), move |after: String| {
            let (store, tenant, map) = (store.clone(), tenant.clone(), map.clone());
            async move {
                let after = (!after.is_empty()).then_some(after.as_str());
                let page = store
                    .page(&tenant, rt, after, size)
                    .await
                    .map_err(Error::from)?;
                let next = (page.len() == size)
                    .then(|| page.last().map(|r| r.id.clone()))
                    .flatten();
                Ok(Page::new(
                    page.iter().filter_map(|r| map(r)).collect(),
                    next,
                ))
            }
        })
    }
}

/// A group's user members: its own as [`MembershipKind::Direct`], and those
/// of groups nested in it (at any depth, cycles ignored) as
/// [`MembershipKind::Transitive`] unless they are also direct members, by
/// directory-core's one walk ([`NestingWalk`]). A nested group the store no
/// longer holds is skipped; the group itself must exist.
pub(crate) async fn members_of(
    store: &dyn Store,
    tenant: &str,
    group_id: &str,
) -> Result<Vec<Membership>, Error> {
    let mut walk = NestingWalk::new(group_id.to_string());
    let mut out = Vec::new();
    while let Some((id, kind)) = walk.next_group() {
        let group = if kind == MembershipKind::Direct {
            load_group(store, tenant, &id).await?
        } else {
            match store.get(tenant, ResourceType::Group, &id).await? {
                Some(g) => g,
                None => continue,
            }
        };
        for user in user_members(&group.body) {
            if let Some(kind) = walk.user(user.clone()) {
                out.push(Membership {
                    group_id: group_id.to_string(),
                    user_id: user,
                    kind,
                });
            }
        }
        for nested in group_members(&group.body) {
            walk.nested_group(nested);
        }
    }
    out.sort();
    Ok(out)
}

async fn load_group(store: &dyn Store, tenant: &str, id: &str) -> Result<StoredResource, Error> {
    store
        .get(tenant, ResourceType::Group, id)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("SCIM group {id} not found")))
}

#[async_trait]
impl DirectoryProvider for ScimDirectory {
    fn users(&self) -> Pages<DirectoryUser> {
        self.pages(ResourceType::User, |r| {
            Some(user_to_model(&r.id, &r.body, r.last_modified))
        })
    }

    fn groups(&self) -> Pages<DirectoryGroup> {
        self.pages(ResourceType::Group, |r| {
            Some(group_to_model(&r.id, &r.body, r.last_modified))
        })
    }

    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        let (store, tenant, id) = (
            self.store.clone(),
            self.tenant.clone(),
            group_id.to_string(),
        );
        paginate((), move |()| {
            let (store, tenant, id) = (store.clone(), tenant.clone(), id.clone());
            async move {
                Ok(Page::new(
                    members_of(store.as_ref(), &tenant, &id).await?,
                    None,
                ))
            }
        })
    }

    fn app_assignments(&self) -> Pages<AppAssignment> {
        self.pages(ResourceType::User, |r| {
            let user = user_to_model(&r.id, &r.body, r.last_modified);
            (user.status == UserStatus::Active).then(|| AppAssignment::direct(user.id))
        })
    }

    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::default();
        let tenant = match self.store.tenant(&self.tenant).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::config(
                "tenant",
                format!("no SCIM tenant {} in the store", self.tenant),
            )),
            Err(e) => Err(e.into()),
        };
        report.push(format!("SCIM tenant {} exists", self.tenant), tenant);
        let read = self
            .store
            .page(&self.tenant, ResourceType::User, None, 1)
            .await
            .map(|_| ())
            .map_err(Error::from);
        report.push("read users from the SCIM store", read);
        report
    }

    fn member_concurrency(&self) -> usize {
        8
    }

    /// Incremental from the store's change log: the events after the state's
    /// position name what to re-read. Full, saying why, when the log no
    /// longer holds the state's last event as it saw it, or the state is of
    /// another tenant.
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound, Error> {
        self.log_round(previous, options).await
    }
}
