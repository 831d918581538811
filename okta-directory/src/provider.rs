//! `OktaDirectory`: the streams, the incremental hints and `check()`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use directory_core::http::run_ahead;
use directory_core::http::url::Url;
use directory_core::{
    AppAssignment, CheckReport, CollectOptions, DirectoryGroup, DirectoryProvider, DirectoryUser,
    Error, Membership, OwnedPreviousRound, Page, Pages, PreviousRound, PreviousSnapshot,
    ProviderRound, Result,
};
use serde::de::DeserializeOwned;

use crate::builder::{Config, OktaDirectoryBuilder, PageLimits};
use crate::client::{next, Client};
use crate::decode::{decode_page, OktaAppUser, OktaGroup, OktaMember, OktaUser};

/// Scopes for users and groups; `okta.apps.read` is added with an app id.
const BASE_SCOPES: [&str; 2] = ["okta.users.read", "okta.groups.read"];
const APPS_SCOPE: &str = "okta.apps.read";
/// Asked for with `system_log(true)`: deletions from the System Log.
pub(crate) const LOGS_SCOPE: &str = "okta.logs.read";

/// A [`DirectoryProvider`] over the Okta Management API.
///
/// Cheap to clone; clones share one token cache, one DPoP key and one
/// concurrency limit. `Display` is `okta(<domain>)`.
#[derive(Clone)]
pub struct OktaDirectory {
    pub(crate) client: Arc<Client>,
    pub(crate) app_id: Option<String>,
    pub(crate) limits: PageLimits,
    pub(crate) include_deprovisioned: bool,
    /// Group-member listings read at once.
    member_concurrency: usize,
    /// Whether rounds ask for and read the System Log.
    pub(crate) system_log: bool,
    pub(crate) scopes: Vec<&'static str>,
    /// One sync round at a time: a round reads the server's clock.
    pub(crate) rounds: Arc<tokio::sync::Mutex<()>>,
}

impl OktaDirectory {
    /// Starts a builder.
    pub fn builder() -> OktaDirectoryBuilder {
        OktaDirectoryBuilder::default()
    }

    /// A provider configured from the environment (see
    /// [`OktaDirectoryBuilder::from_env`]).
    pub fn from_env() -> Result<Self> {
        OktaDirectoryBuilder::from_env()?.build()
    }

    pub(crate) fn from_config(config: Config) -> Result<Self> {
        let mut scopes = BASE_SCOPES.to_vec();
        if config.app_id.is_some() {
            scopes.push(APPS_SCOPE);
        }
        if config.system_log {
            scopes.push(LOGS_SCOPE);
        }
        let name = display_name(&config.base);
        let client = Arc::new(Client::new(&config, name, scopes.clone())?);
        Ok(Self {
            client,
            app_id: config.app_id,
            limits: config.page_limits,
            include_deprovisioned: config.include_deprovisioned,
            member_concurrency: config.member_concurrency,
            system_log: config.system_log,
            scopes,
            rounds: Arc::default(),
        })
    }

    /// The scopes requested with every token.
    pub fn scopes(&self) -> &[&'static str] {
        &self.scopes
    }

    /// How many access tokens were fetched so far.
    pub fn token_fetches(&self) -> u64 {
        self.client.api.tokens().fetches()
    }

    /// Users whose `lastUpdated` is after `since`, deprovisioned ones
    /// included. A hint for re-fetching what changed: pass a time a little
    /// before the last sync (timestamps have millisecond precision and Okta's
    /// clock is not yours), and keep the full listing as the truth, since
    /// deletions and membership changes do not show here.
    pub fn users_changed_since(&self, since: DateTime<Utc>) -> Pages<DirectoryUser> {
        self.users_changed("gt", &okta_time(since))
    }

    /// Groups whose profile (`lastUpdated`) or membership
    /// (`lastMembershipUpdated`) changed after `since`: re-list the members of
    /// these only. A hint, like [`OktaDirectory::users_changed_since`].
    pub fn groups_changed_since(&self, since: DateTime<Utc>) -> Pages<DirectoryGroup> {
        self.groups_changed("gt", &okta_time(since))
    }

    /// Users whose `lastUpdated` compares with `op` (`gt`, `ge`) to `t`, an
    /// Okta filter time.
    pub(crate) fn users_changed(&self, op: &str, t: &str) -> Pages<DirectoryUser> {
        let filter = format!("lastUpdated {op} \"{t}\"");
        let url = self.users_url(Some(&filter));
        self.list(vec![url], "Okta users (changed since)", OktaUser::into_user)
    }

    /// Groups whose `lastUpdated` or `lastMembershipUpdated` compares with
    /// `op` to `t`.
    pub(crate) fn groups_changed(&self, op: &str, t: &str) -> Pages<DirectoryGroup> {
        let filter = format!("lastUpdated {op} \"{t}\" or lastMembershipUpdated {op} \"{t}\"");
        let url = self.client.url("api/v1/groups").map(|mut u| {
            u.query_pairs_mut()
                .append_pair("limit", &self.limits.groups.to_string())
                .append_pair("filter", &filter);
            u
        });
        self.list(
            vec![url],
            "Okta groups (changed since)",
            OktaGroup::into_group,
        )
    }

    fn users_url(&self, filter: Option<&str>) -> Result<Url> {
        let mut url = self.client.url("api/v1/users")?;
        url.query_pairs_mut()
            .append_pair("limit", &self.limits.users.to_string());
        if let Some(f) = filter {
            url.query_pairs_mut().append_pair("filter", f);
        }
        Ok(url)
    }

    pub(crate) fn limited(&self, segments: &[&str], limit: u32) -> Result<Url> {
        let mut url = self.client.url("api/v1/")?;
        url.path_segments_mut()
            .map_err(|_| Error::config("domain", "cannot be a base URL"))?
            .pop_if_empty()
            .extend(segments);
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string());
        Ok(url)
    }

    /// One stream over several listings in turn, each followed through its
    /// `Link rel="next"` headers verbatim on the listing's path (users and
    /// the deprovisioned search both read /api/v1/users).
    fn list<W, T>(
        &self,
        firsts: Vec<Result<Url>>,
        what: &'static str,
        map: impl Fn(W) -> T + Send + Sync + 'static,
    ) -> Pages<T>
    where
        W: DeserializeOwned + Send + 'static,
        T: Clone + PartialEq + Send + 'static,
    {
        let firsts = match firsts.into_iter().collect() {
            Ok(firsts) => firsts,
            Err(e) => return Box::pin(futures::stream::once(async move { Err(e) })),
        };
        self.client.pages(firsts, what, move |resp| {
            let items = decode_page(what, &resp.body, &map)?;
            Ok(Page::new(items, next(resp)))
        })
    }
}

/// Users, groups and the app's users run on their own task a page ahead
/// ([`run_ahead`]): the users listing is a chain of 200-user pages that
/// bounds the whole snapshot's time, so its requests and decoding must not
/// wait behind the other streams. Each group's members (usually one page)
/// stay on the collecting task, which keeps their decoding off the chain's
/// threads.
#[async_trait]
impl DirectoryProvider for OktaDirectory {
    /// Active and other users from the plain list, then (by default)
    /// `DEPROVISIONED` users, which the plain list omits, from a filtered one.
    fn users(&self) -> Pages<DirectoryUser> {
        let mut urls = vec![self.users_url(None)];
        if self.include_deprovisioned {
            urls.push(self.users_url(Some("status eq \"DEPROVISIONED\"")));
        }
        run_ahead(self.list(urls, "Okta users page", OktaUser::into_user), 1)
    }

    fn groups(&self) -> Pages<DirectoryGroup> {
        let url = self.limited(&["groups"], self.limits.groups);
        run_ahead(
            self.list(vec![url], "Okta groups page", OktaGroup::into_group),
            1,
        )
    }

    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        let gid = group_id.to_string();
        let url = self.limited(&["groups", group_id, "users"], self.limits.group_members);
        self.list(
            vec![url],
            "Okta group members page",
            move |u: OktaMember| Membership::direct(gid.clone(), u.id),
        )
    }

    fn app_assignments(&self) -> Pages<AppAssignment> {
        let Some(app) = &self.app_id else {
            return Box::pin(futures::stream::empty());
        };
        let url = self.limited(&["apps", app, "users"], self.limits.app_users);
        let what = "Okta SAML app users page";
        run_ahead(self.list(vec![url], what, OktaAppUser::into_assignment), 1)
    }

    /// Incremental rounds on Okta's `lastUpdated` and `lastMembershipUpdated`
    /// filters (see the crate docs, "Incremental sync").
    async fn sync_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        let previous = previous.map(|p| (PreviousSnapshot::Lent(p.snapshot), p.cursor));
        self.round(previous, options).await
    }

    /// As `sync_round`, the users, groups and memberships that did not
    /// change moved from the previous snapshot instead of copied.
    async fn sync_round_owned(
        &self,
        previous: Option<OwnedPreviousRound>,
        options: &CollectOptions,
    ) -> Result<ProviderRound> {
        match previous {
            Some(OwnedPreviousRound { snapshot, cursor }) => {
                self.round(Some((PreviousSnapshot::Given(snapshot), &cursor)), options)
                    .await
            }
            None => self.round(None, options).await,
        }
    }

    async fn check(&self) -> CheckReport {
        self.run_check().await
    }

    /// `member_concurrency` of the builder: by default the request cap
    /// less two, so the users and app-users chains (cursor pages that must
    /// follow one another) always find a free slot while members are fetched.
    fn member_concurrency(&self) -> usize {
        self.member_concurrency
    }
}

impl fmt::Display for OktaDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.client.name())
    }
}

impl fmt::Debug for OktaDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OktaDirectory")
            .field("org", &self.client.name())
            .field("app_id", &self.app_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn display_name(base: &Url) -> String {
    let host = base.host_str().unwrap_or("?");
    match base.port() {
        Some(p) => format!("okta({host}:{p})"),
        None => format!("okta({host})"),
    }
}

/// Okta's filter date format: `2024-03-11T09:14:02.000Z`.
pub(crate) fn okta_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
