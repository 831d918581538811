//! `AzureDirectory`: the `DirectoryProvider` over Microsoft Graph.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use directory_core::http::url::Url;
use directory_core::http::{run_ahead, AuthorizedClient, HttpClient, TokenCache};
use directory_core::{
    AppAssignment, AppGrant, CheckReport, CollectOptions, DirectoryGroup, DirectoryProvider,
    DirectoryUser, Error, Membership, OwnedPreviousRound, Page, Pages, PreviousRound,
    PreviousSnapshot, ProviderRound, Result,
};
use futures::stream::{self, StreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::AadTokenSource;
use crate::builder::{AzureDirectoryBuilder, Config};
use crate::client::{pages, GraphAuth, GraphClient, Permission};
use crate::cloud::default_scope;
use crate::credential::{ClientCertificate, ClientCredential};
use crate::decode::{WireGroup, GROUP_SELECT, MEMBER_SELECT, USER_SELECT};
use crate::delta::DeltaState;
use crate::user::WireUser;

/// Permissions named when Graph answers 403.
pub(crate) const PERM_USERS: Permission = "User.Read.All";
pub(crate) const PERM_GROUPS: Permission = "Group.Read.All (or GroupMember.Read.All)";
pub(crate) const PERM_MEMBERS: Permission = "GroupMember.Read.All";
pub(crate) const PERM_APPS: Permission = "Application.Read.All";

/// A Microsoft Entra ID tenant read through Microsoft Graph.
///
/// Cheap to clone: clones share one HTTP client and one token cache.
/// `Display` is `azure(<tenant id>)`.
#[derive(Clone)]
pub struct AzureDirectory {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub client: Arc<GraphClient>,
    pub tenant_id: String,
    pub client_id: String,
    pub service_principal_id: Option<String>,
    pub certificate: Option<ClientCertificate>,
    pub page_size: u32,
    pub member_concurrency: usize,
    pub user_select: String,
    pub name: String,
}

impl fmt::Debug for AzureDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureDirectory")
            .field("tenant_id", &self.inner.tenant_id)
            .field("client_id", &self.inner.client_id)
            .field("service_principal_id", &self.inner.service_principal_id)
            .field("graph", &self.inner.client.graph.as_str())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AzureDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.name)
    }
}

impl AzureDirectory {
    /// Starts a builder.
    pub fn builder() -> AzureDirectoryBuilder {
        AzureDirectoryBuilder::default()
    }

    /// A provider configured from the environment (see the crate docs).
    pub fn from_env() -> Result<Self> {
        AzureDirectoryBuilder::from_env()?.build()
    }

    pub(crate) fn from_config(c: Config) -> Result<Self> {
        let name = format!("azure({})", c.tenant_id);
        let http = HttpClient::builder()
            .max_concurrency(c.max_concurrency)
            .retry(c.retry.clone())
            .timeout(c.timeout)
            .build()?;
        let certificate = match &c.credential {
            ClientCredential::Certificate(cert) => Some(cert.clone()),
            ClientCredential::Secret(_) => None,
        };
        let mut select: Vec<String> = USER_SELECT.iter().map(|s| s.to_string()).collect();
        select.extend(c.extension_attributes.iter().cloned());
        let client = Arc::new(graph_client(&c, http, &name)?);
        let inner = Inner {
            client,
            tenant_id: c.tenant_id,
            client_id: c.client_id,
            service_principal_id: c.service_principal_id,
            certificate,
            page_size: c.page_size,
            member_concurrency: c.member_concurrency,
            user_select: select.join(","),
            name,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The tenant id as configured.
    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    /// How many access tokens this provider fetched so far.
    pub fn token_fetches(&self) -> u64 {
        self.inner.client.api.tokens().fetches()
    }
}

impl Inner {
    pub fn users_url(&self) -> Result<Url> {
        self.client.v1(&format!(
            "users?$select={}&$top={}",
            self.user_select, self.page_size
        ))
    }

    pub fn groups_url(&self) -> Result<Url> {
        self.client.v1(&format!(
            "groups?$select={}&$top={}",
            GROUP_SELECT.join(","),
            self.page_size
        ))
    }

    pub fn members_url(&self, group_id: &str) -> Result<Url> {
        let id = path_segment("group id", group_id)?;
        self.client.v1(&format!(
            "groups/{id}/members?$select={}&$top={}",
            MEMBER_SELECT.join(","),
            self.page_size
        ))
    }

    pub fn assignments_url(&self, sp_id: &str) -> Result<Url> {
        let id = path_segment("service_principal_id", sp_id)?;
        self.client.v1(&format!(
            "servicePrincipals/{id}/appRoleAssignedTo?$top={}",
            self.page_size
        ))
    }
}

/// A collection, page by page, following `@odata.nextLink` verbatim and only
/// on the listing (directory-core's paginator); `map` turns each wire item
/// into zero or one item.
pub(crate) fn list<W, T>(
    inner: Arc<Inner>,
    first: Result<Url>,
    what: String,
    need: Permission,
    map: fn(W) -> Option<T>,
) -> Pages<T>
where
    W: DeserializeOwned + Send + 'static,
    T: Clone + PartialEq + Send + 'static,
{
    let first = match first {
        Ok(u) => u,
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let listing = inner.client.api.listing(first.clone());
    pages(
        inner.client.clone(),
        listing,
        first,
        what,
        need,
        move |page| {
            let items = page.value.into_iter().filter_map(map).collect();
            Ok(Page::new(items, page.next_link))
        },
    )
}

#[async_trait]
/// Every stream runs on its own task a page ahead ([`run_ahead`]): a
/// snapshot collection polls them all from one task, and a 999-user page
/// takes milliseconds to decode.
impl DirectoryProvider for AzureDirectory {
    fn users(&self) -> Pages<DirectoryUser> {
        let first = self.inner.users_url();
        run_ahead(
            list(
                self.inner.clone(),
                first,
                "list users".into(),
                PERM_USERS,
                |u: WireUser| Some(u.into_model()),
            ),
            1,
        )
    }

    fn groups(&self) -> Pages<DirectoryGroup> {
        let first = self.inner.groups_url();
        run_ahead(
            list(
                self.inner.clone(),
                first,
                "list groups".into(),
                PERM_GROUPS,
                |g: WireGroup| Some(g.to_model()),
            ),
            1,
        )
    }

    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        run_ahead(
            crate::members::group_members(self.inner.clone(), group_id.to_string()),
            1,
        )
    }

    fn app_assignments(&self) -> Pages<AppAssignment> {
        run_ahead(crate::members::app_assignments(self.inner.clone()), 1)
    }

    fn memberships(&self, group_ids: Vec<String>) -> Option<Pages<Membership>> {
        Some(run_ahead(
            crate::members::all_memberships(self.inner.clone(), group_ids),
            1,
        ))
    }

    fn app_grants(&self) -> Option<Pages<AppGrant>> {
        Some(run_ahead(crate::members::app_grants(self.inner.clone()), 1))
    }

    async fn check(&self) -> CheckReport {
        crate::check::run(&self.inner).await
    }

    /// Graph's delta queries: a round with a previous state follows its
    /// delta links; without one (or when Graph resets the links) it reads
    /// everything through the delta endpoints and says why. The round
    /// reports the HTTP requests this provider sent while it ran (token
    /// requests and retries included).
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        let _ = options; // delta rounds always read the app's assignments
        delta_round(
            self,
            previous.map(|p| (PreviousSnapshot::Lent(p.snapshot), p.cursor)),
        )
        .await
    }

    /// As `sync_round`, the users and groups that did not change moved
    /// from the previous snapshot instead of copied.
    async fn sync_round_owned(
        &self,
        previous: Option<OwnedPreviousRound>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        let _ = options;
        match previous {
            Some(OwnedPreviousRound { snapshot, cursor }) => {
                delta_round(self, Some((PreviousSnapshot::Given(snapshot), &cursor))).await
            }
            None => delta_round(self, None).await,
        }
    }

    fn member_concurrency(&self) -> usize {
        self.inner.member_concurrency
    }
}

/// The Graph client with its token source, origin guard and budget.
fn graph_client(c: &Config, http: HttpClient, name: &str) -> Result<GraphClient> {
    let token_url = c
        .authority
        .join(&format!("{}/oauth2/v2.0/token", c.tenant_id))
        .map_err(|e| {
            Error::config(
                "authority_host",
                format!("cannot build the token URL ({e})"),
            )
        })?;
    let source = AadTokenSource {
        http: http.clone(),
        token_url,
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        scope: default_scope(&c.graph),
        credential: Arc::new(c.credential.clone()),
        provider: name.to_string(),
    };
    let auth = GraphAuth {
        budget: c
            .budget
            .map(|(units, window)| crate::ratelimit::Budget::new(units, window)),
    };
    let tokens = TokenCache::new(source, Duration::from_secs(300));
    Ok(GraphClient {
        api: AuthorizedClient::new(http, tokens, auth, &c.graph, name),
        graph: with_trailing_slash(c.graph.clone()),
    })
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// An id placed in a URL path: GUID-like characters only, so a crafted id
/// cannot change the request's path or query.
pub(crate) fn path_segment<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(Error::invalid_response(format!(
            "{what} `{}` is not a valid object id",
            id.chars().take(64).collect::<String>()
        )))
    }
}

/// One [`DirectoryProvider::sync_round`] (the previous snapshot lent) or
/// [`DirectoryProvider::sync_round_owned`] (handed over) on Graph's delta
/// queries, as [`AzureDirectory::delta_snapshot`] reads them.
async fn delta_round(
    dir: &AzureDirectory,
    previous: Option<(PreviousSnapshot<'_>, &serde_json::Value)>,
) -> Result<ProviderRound> {
    let (previous, state, unreadable) = match previous {
        Some((snapshot, cursor)) => match DeltaState::deserialize(cursor) {
            Ok(state) => (Some(snapshot), Some(state), None),
            Err(_) => (
                None,
                None,
                Some("the sync state holds no delta links this release can read".to_string()),
            ),
        },
        None => (None, None, None),
    };
    let http = dir.inner.client.api.http();
    let before = http.requests_sent();
    let outcome = dir.delta_sync(state.as_ref()).await?;
    let snapshot = outcome.apply_to(previous)?;
    let requests = http.requests_since(before);
    let reset = outcome.reset.as_ref().map(|r| match r.status {
        Some(status) => format!("Graph reset the delta links ({}, HTTP {status})", r.code),
        None => format!("Graph reset the delta links ({})", r.code),
    });
    let cursor = serde_json::to_value(&outcome.state)
        .map_err(|e| Error::invalid_response(format!("the delta state cannot be kept: {e}")))?;
    Ok(ProviderRound {
        snapshot,
        cursor,
        incremental: !outcome.full_sync,
        full_reason: unreadable.or(reset),
        requests: Some(requests),
    })
}
