//! The one listing paginator over HTTP: every page stream and delta round
//! of every provider reads its pages here. The provider fetches one page
//! and says where the next one is (its cursor function: Okta's `Link`
//! header, Graph's `@odata.nextLink`); the listing checks every link
//! against the origin and the listing's path, and [`paginate`] bounds
//! repeated cursors, empty pages and repeated pages.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};
use url::Url;

use super::origin::OriginGuard;
use crate::error::Result;
use crate::pagination::{paginate, Page};
use crate::provider::Pages;

/// One collection of an API (a URL path on the configured origin) and the
/// links that may continue it.
///
/// Next links are followed verbatim but only on the same origin and the
/// same path as the listing (only the query may change): a token is never
/// sent elsewhere, and a next link from one group's members to another's
/// cannot file people under the wrong group. A refused link is an
/// [`crate::ErrorKind::InvalidResponse`] error that names the provider.
#[derive(Debug, Clone)]
pub struct Listing {
    guard: OriginGuard,
    url: Url,
    provider: Arc<str>,
}

impl Listing {
    /// The listing at `url`, whose links must stay on `guard`'s origin;
    /// `provider` names it in errors.
    pub fn new(guard: OriginGuard, url: Url, provider: &str) -> Self {
        Self {
            guard,
            url,
            provider: provider.into(),
        }
    }

    /// The listing's own URL (its first page).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Checks a link the server sent for this listing (a next link, a
    /// delta link, a link kept from an earlier round): on the origin and on
    /// the listing's path.
    pub fn link(&self, link: &str) -> Result<Url> {
        self.guard
            .check_listing(link, &self.url)
            .map_err(|e| e.with_provider(&*self.provider))
    }

    /// The listing's pages from its own URL: see [`Listing::pages_from`].
    pub fn pages<T, F, Fut>(self, fetch: F) -> Pages<T>
    where
        T: Clone + PartialEq + Send + 'static,
        F: FnMut(Url) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T, String>>> + Send + 'static,
    {
        let first = self.url.clone();
        self.pages_from(vec![first], fetch)
    }

    /// A lazy stream of pages read from each of `starts` in turn (URLs of
    /// this listing: the listing itself, a filtered search of the same
    /// collection, a delta link from the previous round).
    ///
    /// `fetch` reads one page: it sends the request, turns an error answer
    /// into a typed error, decodes the items and returns them with the next
    /// link exactly as the server sent it (`None` on the last page). Every
    /// URL `fetch` is given has passed [`Listing::link`], and so has every
    /// next link before it is followed. [`paginate`]'s bounds apply: a
    /// repeated cursor, endless empty pages or the same page over and over
    /// end the stream with an error.
    pub fn pages_from<T, F, Fut>(self, starts: Vec<Url>, mut fetch: F) -> Pages<T>
    where
        T: Clone + PartialEq + Send + 'static,
        F: FnMut(Url) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T, String>>> + Send + 'static,
    {
        let mut starts: VecDeque<String> = starts.into_iter().map(String::from).collect();
        let Some(first) = starts.pop_front() else {
            return stream::empty().boxed();
        };
        let starts = Arc::new(Mutex::new(starts));
        paginate(first, move |cursor: String| {
            let page = self.link(&cursor).map(&mut fetch);
            let (listing, starts) = (self.clone(), starts.clone());
            async move {
                let page = page?.await?;
                let next = match page.next {
                    Some(link) => Some(listing.link(&link)?.into()),
                    None => starts.lock().unwrap_or_else(|p| p.into_inner()).pop_front(),
                };
                Ok(Page::new(page.items, next))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use futures::TryStreamExt;

    fn listing() -> Listing {
        let url = Url::parse("https://api.test/v1/users?limit=2").unwrap();
        Listing::new(OriginGuard::new(&url), url, "test(api)")
    }

    /// Pages of a listing served from a table: URL -> (items, next link).
    fn served(
        table: Vec<(&'static str, Vec<u32>, Option<&'static str>)>,
    ) -> impl FnMut(Url) -> std::future::Ready<Result<Page<u32, String>>> + Send + 'static {
        move |url: Url| {
            let row = table.iter().find(|(u, _, _)| *u == url.as_str());
            std::future::ready(match row {
                Some((_, items, next)) => Ok(Page::new(items.clone(), next.map(String::from))),
                None => Err(crate::Error::invalid_response(format!("no page at {url}"))),
            })
        }
    }

    #[tokio::test]
    async fn follows_next_links_then_the_next_start() {
        let l = listing();
        let search = Url::parse("https://api.test/v1/users?filter=x").unwrap();
        let pages = l.clone().pages_from(
            vec![l.url().clone(), search],
            served(vec![
                (
                    "https://api.test/v1/users?limit=2",
                    vec![1, 2],
                    Some("https://api.test/v1/users?after=2"),
                ),
                ("https://api.test/v1/users?after=2", vec![3], None),
                ("https://api.test/v1/users?filter=x", vec![4], None),
            ]),
        );
        assert_eq!(pages.try_concat().await.unwrap(), vec![1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_link_to_another_listing_or_origin_is_refused_naming_the_provider() {
        for bad in [
            "https://api.test/v1/groups?after=2",
            "https://evil.test/v1/users?after=2",
        ] {
            let pages = listing().pages(served(vec![(
                "https://api.test/v1/users?limit=2",
                vec![1, 2],
                Some(bad),
            )]));
            let err = pages.try_concat().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{bad}");
            assert_eq!(err.provider(), Some("test(api)"), "{bad}");
        }
        // A start off the listing is refused before anything is fetched.
        let off = Url::parse("https://api.test/v1/apps").unwrap();
        let pages = listing().pages_from(vec![off], served(vec![]));
        let err = pages.try_concat().await.unwrap_err();
        assert!(err.message().contains("another listing"), "{err}");
    }

    #[tokio::test]
    async fn a_link_back_to_an_earlier_page_ends_the_stream_with_an_error() {
        let pages = listing().pages(served(vec![
            (
                "https://api.test/v1/users?limit=2",
                vec![1, 2],
                Some("https://api.test/v1/users?after=2"),
            ),
            (
                "https://api.test/v1/users?after=2",
                vec![3],
                Some("https://api.test/v1/users?limit=2"),
            ),
        ]));
        let err = pages.try_concat().await.unwrap_err();
        assert!(err.message().contains("repeats"), "{err}");
    }
}
