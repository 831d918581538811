//! Graph's side of directory-core's authorized request path
//! ([`AuthorizedClient`]): a bearer token paced by the resource-unit
//! budget, failed responses handed to `errors.rs`, and Graph's cursor
//! function (`@odata.nextLink`) for directory-core's one paginator.

use std::sync::Arc;

use directory_core::http::url::Url;
use directory_core::http::{Authorize, AuthorizedClient, HttpResponse, Listing, RetryAfter};
use directory_core::{Error, Page, Pages, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::AadTokenSource;
use crate::ratelimit::{resource_units, Budget};

/// The Graph permission a request needs, named in a 403's message.
pub(crate) type Permission = &'static str;

/// Everything needed to talk to Graph for one tenant.
pub(crate) struct GraphClient {
    pub api: AuthorizedClient<AadTokenSource, GraphAuth>,
    pub graph: Url,
}

/// How Graph requests are authorized and paced: `Bearer` (directory-core's
/// default) and, when configured, the resource-unit budget.
pub(crate) struct GraphAuth {
    pub budget: Option<Budget>,
}

impl Authorize for GraphAuth {
    type Hint = RetryAfter;

    fn pace(&self, url: &Url) -> impl std::future::Future<Output = ()> + Send {
        let cost = resource_units(url.path(), url.query().unwrap_or_default());
        async move {
            if let Some(b) = &self.budget {
                b.pace(cost).await;
            }
        }
    }
}

/// One page of a Graph collection.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphPage<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

impl GraphClient {
    /// A Graph v1.0 URL from a path and query, e.g. `users?$top=999`.
    pub fn v1(&self, path_and_query: &str) -> Result<Url> {
        self.graph
            .join(&format!("v1.0/{path_and_query}"))
            .map_err(|e| Error::config("graph_endpoint", format!("cannot build a Graph URL ({e})")))
    }

    /// GET `url` and decode one page; non-2xx answers are typed errors.
    pub async fn page<T: DeserializeOwned>(
        &self,
        what: &str,
        url: &Url,
        need: Permission,
    ) -> Result<GraphPage<T>> {
        let resp = self.get(what, url, need).await?;
        resp.json(what)
            .map_err(|e| e.with_provider(self.api.provider()))
    }

    /// GET `url`; a non-2xx answer is turned into a typed error.
    pub async fn get(&self, what: &str, url: &Url, need: Permission) -> Result<HttpResponse> {
        let resp = self.api.get(what, url).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(self.graph_error(what, &resp, need))
        }
    }

    /// Turns a Graph error response into an error that says what to fix.
    pub fn graph_error(&self, what: &str, resp: &HttpResponse, need: Permission) -> Error {
        crate::errors::graph_error(self.api.provider(), what, resp, need)
    }
}

/// The pages of `listing` read from `start` (the listing itself, or a
/// delta link of it) by directory-core's paginator; `page` turns one Graph
/// page into items and the next link (Graph's cursor function:
/// `@odata.nextLink`, and for delta rounds the `@odata.deltaLink`).
pub(crate) fn pages<W, T>(
    client: Arc<GraphClient>,
    listing: Listing,
    start: Url,
    what: String,
    need: Permission,
    page: impl Fn(GraphPage<W>) -> Result<Page<T, String>> + Send + Sync + 'static,
) -> Pages<T>
where
    W: DeserializeOwned + Send + 'static,
    T: Clone + PartialEq + Send + 'static,
{
    let page = Arc::new(page);
    listing.pages_from(vec![start], move |url| {
        let (client, what, page) = (client.clone(), what.clone(), page.clone());
        async move { page(client.page::<W>(&what, &url, need).await?) }
    })
}
